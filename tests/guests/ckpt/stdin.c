/* Stdin guest: reads lines with fgets — libc reads stdin in chunks into a buffer in linear
 * memory — and prints a hash of each after some work, so checkpoints fall between reads,
 * with input consumed from the host pipe but not yet from libc's buffer. stdout is
 * unbuffered. Exits 0. */
#include "common.h"
#include <stdio.h>
#include <string.h>

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char line[256];
    int lines = 0;
    uint64_t all = FNV_INIT;
    while (fgets(line, sizeof line, stdin)) {
        size_t len = strlen(line);
        uint64_t h = fnv(FNV_INIT, line, len);
        for (int round = 0; round < 40; round++)
            h = fnv(h, &h, sizeof h);
        all = fnv(all, &h, sizeof h);
        printf("%d: %zu bytes, %016llx\n", ++lines, len, (unsigned long long)h);
    }
    fprintf(stderr, "stdin: end of input after %d lines\n", lines);
    printf("all %016llx\n", (unsigned long long)all);
    return 0;
}
