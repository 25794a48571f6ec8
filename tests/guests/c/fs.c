/* File-system guest: every fd_* and path_* call through wasi-libc's POSIX layer.
 * Expects one preopen at /sandbox (empty, writable). Exits 0. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Prints the sorted entry names (with a type letter) of a directory. */
static void list(const char *path) {
    DIR *d = opendir(path);
    if (!d) {
        printf("opendir %s: %s\n", path, ename(errno));
        return;
    }
    char *names[64];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 64) {
        char *s = malloc(strlen(e->d_name) + 3);
        char t = e->d_type == DT_DIR ? 'd' : e->d_type == DT_REG ? 'f' : e->d_type == DT_LNK ? 'l' : '?';
        sprintf(s, "%s/%c", e->d_name, t);
        names[n++] = s;
    }
    closedir(d);
    qsort(names, n, sizeof *names, cmp);
    printf("list %s:", path);
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        free(names[i]);
    }
    printf("\n");
}

static void show(const char *what, const char *buf, ssize_t n) {
    printf("%s: %zd \"%.*s\"\n", what, n, n > 0 ? (int)n : 0, buf);
}

int main(void) {
    char buf[256];
    struct stat st;

    report("mkdir d", mkdir("/sandbox/d", 0755));
    report("mkdir d again", mkdir("/sandbox/d", 0755));

    int fd = open("/sandbox/d/a.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    report("create a.txt", fd);
    printf("write: %zd\n", write(fd, "hello world\n", 12));
    show("read on write-only", buf, read(fd, buf, 4));
    printf("read errno: %s\n", ename(errno));
    close(fd);

    fd = open("/sandbox/d/a.txt", O_RDWR);
    report("open rdwr", fd);
    show("read 5", buf, read(fd, buf, 5));
    printf("tell: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    printf("seek end-6: %lld\n", (long long)lseek(fd, -6, SEEK_END));
    show("read rest", buf, read(fd, buf, sizeof buf));
    show("read at eof", buf, read(fd, buf, sizeof buf));
    printf("seek negative: %lld %s\n", (long long)lseek(fd, -100, SEEK_SET), ename(errno));
    printf("pwrite: %zd\n", pwrite(fd, "HELLO", 5, 0));
    show("pread", buf, pread(fd, buf, 5, 0));
    printf("tell after p-io: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    show("pread past end", buf, pread(fd, buf, 5, 100));
    report("ftruncate 8", ftruncate(fd, 8));
    report("fstat", fstat(fd, &st));
    printf("size %lld regular %d nlink %d\n", (long long)st.st_size, S_ISREG(st.st_mode), (int)st.st_nlink);
    int alloc = posix_fallocate(fd, 0, 100);
    fstat(fd, &st);
    printf("~fallocate: %s size %lld\n", ename(alloc), (long long)st.st_size);
    report("ftruncate 8 again", ftruncate(fd, 8));
    printf("fadvise: %s\n", ename(posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL)));
    report("fsync", fsync(fd));
    report("fdatasync", fdatasync(fd));
    struct timespec times[2] = {{1000000000, 0}, {1200000000, 500}};
    report("futimens", futimens(fd, times));
    fstat(fd, &st);
    printf("times: atime %lld mtime %lld.%09ld\n", (long long)st.st_atim.tv_sec,
           (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
    close(fd);

    fd = open("/sandbox/d/a.txt", O_WRONLY | O_APPEND);
    report("open append", fd);
    printf("append flag: %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    printf("append write: %zd\n", write(fd, "tail", 4));
    report("clear append", fcntl(fd, F_SETFL, 0));
    printf("append flag after: %d\n", (fcntl(fd, F_GETFL) & O_APPEND) != 0);
    lseek(fd, 0, SEEK_SET);
    printf("write at 0: %zd\n", write(fd, "J", 1));
    close(fd);
    fd = open("/sandbox/d/a.txt", O_RDONLY);
    show("content", buf, read(fd, buf, sizeof buf));
    close(fd);

    report("stat a.txt", stat("/sandbox/d/a.txt", &st));
    printf("stat size %lld\n", (long long)st.st_size);
    report("rename a->b", rename("/sandbox/d/a.txt", "/sandbox/d/b.txt"));
    report("stat a.txt after rename", stat("/sandbox/d/a.txt", &st));
    report("symlink", symlink("b.txt", "/sandbox/d/link"));
    ssize_t n = readlink("/sandbox/d/link", buf, sizeof buf);
    show("readlink", buf, n);
    report("lstat link", lstat("/sandbox/d/link", &st));
    printf("is link %d\n", S_ISLNK(st.st_mode));
    report("stat through link", stat("/sandbox/d/link", &st));
    printf("target size %lld\n", (long long)st.st_size);
    fd = open("/sandbox/d/link", O_RDONLY);
    show("read through link", buf, read(fd, buf, 5));
    close(fd);
    fd = open("/sandbox/d/link", O_RDONLY | O_NOFOLLOW);
    printf("open nofollow: %s\n", fd < 0 ? ename(errno) : "opened");
    report("link", link("/sandbox/d/b.txt", "/sandbox/d/hard"));
    stat("/sandbox/d/b.txt", &st);
    printf("nlink %d\n", (int)st.st_nlink);
    struct timeval tv[2] = {{1500000000, 0}, {1600000000, 0}};
    report("utimes", utimes("/sandbox/d/hard", tv));
    stat("/sandbox/d/b.txt", &st);
    printf("mtime via other name %lld\n", (long long)st.st_mtim.tv_sec);
    report("mkdir d/sub", mkdir("/sandbox/d/sub", 0755));
    list("/sandbox/d");

    report("open excl existing", open("/sandbox/d/b.txt", O_CREAT | O_EXCL | O_WRONLY, 0644));
    report("open missing", open("/sandbox/d/missing", O_RDONLY));
    report("open dir for write", open("/sandbox/d", O_WRONLY));
    report("open file as dir", open("/sandbox/d/b.txt", O_RDONLY | O_DIRECTORY));
    report("open file/ ", open("/sandbox/d/b.txt/", O_RDONLY));
    report("rmdir non-empty", rmdir("/sandbox/d"));
    report("unlink dir", unlink("/sandbox/d/sub"));
    report("rmdir file", rmdir("/sandbox/d/b.txt"));
    report("rename file over dir", rename("/sandbox/d/b.txt", "/sandbox/d/sub"));
    report("rename dir", rename("/sandbox/d/sub", "/sandbox/d/sub2"));

    /* Relative paths through the emulated working directory. */
    report("chdir", chdir("/sandbox/d"));
    getcwd(buf, sizeof buf);
    printf("cwd %s\n", buf);
    fd = open("rel.txt", O_CREAT | O_RDWR, 0644);
    report("create relative", fd);
    /* Created read-write without write rights on the path: O_CREAT | O_RDONLY. */
    int ro = open("ro.txt", O_CREAT | O_RDONLY, 0644);
    report("create read-only", ro);
    close(ro);
    close(fd);
    report("stat ../d/rel.txt", stat("../d/rel.txt", &st));

    /* Many entries: readdir pages through several buffers, telldir/seekdir use cookies. */
    mkdir("/sandbox/many", 0755);
    for (int i = 0; i < 150; i++) {
        snprintf(buf, sizeof buf, "/sandbox/many/file-with-a-long-name-%03d", i);
        close(open(buf, O_CREAT | O_WRONLY, 0644));
    }
    DIR *d = opendir("/sandbox/many");
    int count = 0;
    long mark = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (++count == 40)
            mark = telldir(d);
    }
    seekdir(d, mark);
    int again = 0;
    while (readdir(d))
        again++;
    closedir(d);
    printf("many: %d entries, %d after mark\n", count, again);
    for (int i = 0; i < 150; i++) {
        snprintf(buf, sizeof buf, "/sandbox/many/file-with-a-long-name-%03d", i);
        unlink(buf);
    }
    report("rmdir many", rmdir("/sandbox/many"));

    /* 1 MiB round trip. */
    static unsigned char big[1 << 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 7 + i / 251);
    fd = open("/sandbox/big.bin", O_CREAT | O_RDWR | O_TRUNC, 0644);
    printf("big write: %zd\n", write(fd, big, sizeof big));
    lseek(fd, 0, SEEK_SET);
    memset(big, 0, sizeof big);
    size_t got = 0;
    ssize_t r;
    while ((r = read(fd, big + got, sizeof big - got)) > 0)
        got += r;
    unsigned long sum = 0;
    for (size_t i = 0; i < sizeof big; i++)
        sum = sum * 31 + big[i];
    printf("big read: %zu sum %lu\n", got, sum);
    close(fd);
    unlink("/sandbox/big.bin");

    /* Clean up: only what the test host expects is left. */
    unlink("/sandbox/d/hard");
    unlink("/sandbox/d/link");
    unlink("/sandbox/d/rel.txt");
    unlink("/sandbox/d/ro.txt");
    rmdir("/sandbox/d/sub2");
    report("unlink b", unlink("/sandbox/d/b.txt"));
    report("rmdir d", rmdir("/sandbox/d"));
    report("stat d", stat("/sandbox/d", &st));
    fd = open("/sandbox/kept.txt", O_CREAT | O_WRONLY, 0644);
    write(fd, "kept\n", 5);
    close(fd);
    list("/sandbox");
    printf("done\n");
    return 0;
}
