/* Guest of the live-migration tests (tests/all/migrate.rs): a program whose memory grows
 * while it is being migrated.
 *
 * grow STEPS KIB SLEEP_MS: for STEPS steps allocates KIB KiB more (the heap, and with it
 * the linear memory, grows), fills the new block with a pattern of the step, rewrites one
 * word in every block allocated so far, prints "step N sum S" and sleeps SLEEP_MS ms. At
 * the end prints "done checksum C" (over every block) and exits 0. Deterministic: a
 * migrated run prints exactly what an uninterrupted run does. Build:
 * tests/guests/migrate/build.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STEPS 4096

static uint8_t *blocks[MAX_STEPS];

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: grow STEPS KIB SLEEP_MS\n");
        return 2;
    }
    long steps = atol(argv[1]);
    size_t bytes = (size_t)atol(argv[2]) << 10;
    long sleep_ms = atol(argv[3]);
    if (steps < 1 || steps > MAX_STEPS || bytes < 8)
        return 2;
    uint64_t sum = 0;
    for (long step = 0; step < steps; step++) {
        uint8_t *b = malloc(bytes);
        if (!b)
            return 3;
        for (size_t i = 0; i < bytes; i += 8) {
            uint64_t v = ((i + (size_t)step) * 0x9e3779b97f4a7c15ull) >> 13;
            memcpy(b + i, &v, 8);
        }
        blocks[step] = b;
        for (long k = 0; k <= step; k++) {
            uint64_t w;
            memcpy(&w, blocks[k], 8);
            w = w * 31 + (uint64_t)step;
            memcpy(blocks[k], &w, 8);
            sum += w;
        }
        printf("step %ld sum %llu\n", step, (unsigned long long)sum);
        fflush(stdout);
        if (sleep_ms > 0) {
            struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    uint64_t c = 0;
    for (long k = 0; k < steps; k++)
        for (size_t i = 0; i < bytes; i += 64)
            c = (c ^ blocks[k][i] ^ ((uint64_t)blocks[k][i + 7] << 8)) * 0x100000001b3ull;
    printf("done checksum %llu\n", (unsigned long long)c);
    return 0;
}
