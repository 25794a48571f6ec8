/* fileio: writes an n MiB file in 4 KiB writes into the directory argv[2] (a
 * preopened directory under WASI), reads it back in 4 KiB reads three times,
 * once sequentially and twice at scattered offsets, then deletes it -- the
 * cost of WASI calls (fd_write, fd_read, fd_seek) through each engine. */
#include "common.h"
#include <fcntl.h>
#include <unistd.h>

#define BLOCK 4096

int main(int argc, char **argv) {
    long mib = arg_size(argc, argv, 128);
    const char *dir = argc > 2 ? argv[2] : ".";
    char path[4096];
    snprintf(path, sizeof path, "%s/fileio-bench.dat", dir);
    long blocks = mib * 256;
    if (blocks == 0) blocks = 16;
    static unsigned char buf[BLOCK];
    u64 state = 0x2545f4914f6cdd1dull;

    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) { perror(path); return 1; }
    for (long b = 0; b < blocks; b++) {
        for (int i = 0; i < BLOCK; i += 8) {
            u64 v = rng_next(&state);
            memcpy(buf + i, &v, 8);
        }
        if (write(fd, buf, BLOCK) != BLOCK) { perror("write"); return 1; }
    }
    close(fd);

    fd = open(path, O_RDONLY);
    if (fd < 0) { perror(path); return 1; }
    u64 sum = 0;
    for (int pass = 0; pass < 3; pass++) {
        for (long k = 0; k < blocks; k++) {
            long b = pass == 0 ? k : (k * 7919 + pass) % blocks;
            if (pass > 0 && lseek(fd, (off_t)b * BLOCK, SEEK_SET) < 0) { perror("lseek"); return 1; }
            if (read(fd, buf, BLOCK) != BLOCK) { perror("read"); return 1; }
            u64 v;
            memcpy(&v, buf + (k % 512) * 8, 8);
            sum = mix64(sum, v ^ (u64)b);
        }
    }
    close(fd);
    if (unlink(path) != 0) { perror("unlink"); return 1; }
    printf("%ld blocks written and read 3 times\n", blocks);
    print_checksum(sum);
    return 0;
}
