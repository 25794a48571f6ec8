/* File I/O guest: descriptors whose state must survive a checkpoint — offsets moved by
 * write, read and lseek (and left alone by pread/pwrite), a file shrunk and grown with
 * ftruncate, an O_APPEND log held open from start to end, a directory listed one entry at
 * a time by cookie, and files created, renamed and removed. Busy work between the calls
 * spreads random checkpoints over all of these states.
 * Needs the preopen /data holding in.txt and dir/ (entries a..e); leaves out.bin, log.txt
 * and sub/renamed.txt there and removes dir/c. stdout is unbuffered. Exits 3. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <wasi/api.h>

static uint64_t h = FNV_INIT;

/* A line on the O_APPEND log, with the busy work's result in it. */
static void note(int log, const char *fmt, ...) {
    char line[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    n += snprintf(line + n, sizeof line - n, " (%08x)\n", busy(200));
    write(log, line, n);
}

static long long offset(int fd) { return (long long)lseek(fd, 0, SEEK_CUR); }

static void write_records(int out, int log) {
    unsigned char rec[64];
    for (int i = 0; i < 40; i++) {
        for (int j = 0; j < 64; j++)
            rec[j] = (unsigned char)lcg();
        write(out, rec, sizeof rec);
        if (i % 8 == 7) { /* patch the record before, then back to the end */
            lseek(out, -100, SEEK_CUR);
            write(out, "PATCH", 5);
            lseek(out, 0, SEEK_END);
        }
        if (i % 10 == 0)
            note(log, "record %d, offset %lld", i, offset(out));
        busy(300);
    }
}

/* pwrite and pread at fixed places; the file offset must not move. */
static void positional(int out) {
    long long before = offset(out);
    char buf[256];
    for (int k = 0; k < 10; k++) {
        pwrite(out, "pw", 2, k * 211 + 5);
        busy(200);
    }
    ssize_t n = pread(out, buf, sizeof buf, 300);
    h = fnv(h, buf, n > 0 ? n : 0);
    printf("pread %zd, offset kept %d\n", n, offset(out) == before);
}

static void truncate_and_reread(int out) {
    struct stat st;
    ftruncate(out, 1000);
    printf("size after shrink: %lld\n", (long long)lseek(out, 0, SEEK_END));
    write(out, "tail", 4);
    busy(500);
    ftruncate(out, 3000);
    fstat(out, &st);
    printf("size after growth: %lld, offset %lld\n", (long long)st.st_size, offset(out));
    char buf[97];
    ssize_t n;
    lseek(out, 0, SEEK_SET);
    while ((n = read(out, buf, sizeof buf)) > 0) {
        h = fnv(h, buf, n);
        busy(100);
    }
    printf("out.bin hash %016llx\n", (unsigned long long)h);
}

/* Reads in 50-byte steps, going back 7 bytes after each full read. */
static void read_input(void) {
    int in = open("/data/in.txt", O_RDONLY);
    char buf[50];
    ssize_t n;
    int reads = 0;
    while ((n = read(in, buf, sizeof buf)) > 0) {
        h = fnv(h, buf, n);
        reads++;
        busy(150);
        if (n == sizeof buf)
            lseek(in, -7, SEEK_CUR);
    }
    close(in);
    printf("in.txt: %d reads, hash %016llx\n", reads, (unsigned long long)h);
}

/* One entry per fd_readdir call, continuing from the previous entry's cookie. */
static void list_by_cookie(void) {
    int d = open("/data/dir", O_RDONLY | O_DIRECTORY);
    __wasi_dircookie_t cookie = 0;
    for (;;) {
        _Alignas(8) uint8_t buf[sizeof(__wasi_dirent_t) + 16];
        __wasi_size_t used = 0;
        if (__wasi_fd_readdir(d, buf, sizeof buf, cookie, &used) != 0 || used == 0)
            break;
        __wasi_dirent_t ent;
        memcpy(&ent, buf, sizeof ent);
        const char *name = (const char *)buf + sizeof ent;
        if (name[0] != '.')
            printf("entry %.*s\n", (int)ent.d_namlen, name);
        cookie = ent.d_next;
        busy(400);
    }
    close(d);
}

/* The same listing through libc's DIR, which buffers entries in linear memory. */
static void list_by_dir(void) {
    DIR *d = opendir("/data/dir");
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d))) {
        count += e->d_name[0] != '.';
        busy(400);
    }
    closedir(d);
    printf("readdir: %d entries\n", count);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int log = open("/data/log.txt", O_WRONLY | O_CREAT | O_APPEND, 0644);
    int out = open("/data/out.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    note(log, "start");
    write_records(out, log);
    positional(out);
    truncate_and_reread(out);
    close(out);
    note(log, "out.bin done");
    read_input();
    list_by_cookie();
    list_by_dir();

    mkdir("/data/sub", 0755);
    int t = open("/data/sub/tmp.txt", O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(t, "temporary\n", 10);
    close(t);
    busy(500);
    printf("rename: %d\n", rename("/data/sub/tmp.txt", "/data/sub/renamed.txt"));
    printf("unlink: %d\n", unlink("/data/dir/c"));
    note(log, "done, hash %016llx", (unsigned long long)h);
    close(log);
    fprintf(stderr, "files: finished\n");
    return 3;
}
