/* Checkpoint guest: state that has to survive a checkpoint taken while it sleeps.
 * Expects /data with dir/ holding a, b, c. Before the sleep it writes to /data/log.txt
 * and reads one directory entry; after it, the same descriptors go on (file offset,
 * readdir position), stdin is read, and the monotonic clock must show the whole sleep.
 * argv[1] = sleep in milliseconds. Exits 0. */
#include "common.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + ts.tv_nsec / 1000000;
}

static const char *next_name(DIR *d) {
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            return e->d_name;
    return "(end)";
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    long ms = argc > 1 ? atol(argv[1]) : 500;
    int fd = open("/data/log.txt", O_CREAT | O_RDWR | O_TRUNC, 0644);
    printf("write before: %zd\n", write(fd, "before\n", 7));
    DIR *d = opendir("/data/dir");
    printf("first entry: %s\n", next_name(d));
    uint64_t t0 = mono_ms();
    printf("sleeping %ld ms\n", ms);
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    uint64_t slept = mono_ms() - t0;
    printf("slept enough: %d\n", slept >= (uint64_t)ms);
    printf("write after: %zd\n", write(fd, "after\n", 6));
    printf("offset: %lld\n", (long long)lseek(fd, 0, SEEK_CUR));
    char buf[64];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    printf("log: %.*s", (int)n, buf);
    printf("second entry: %s\n", next_name(d));
    printf("third entry: %s\n", next_name(d));
    printf("fourth entry: %s\n", next_name(d));
    closedir(d);
    close(fd);
    n = read(0, buf, sizeof buf);
    printf("stdin: %.*s", (int)(n > 0 ? n : 0), buf);
    return 0;
}
