/* Guest of the live-migration tests and bench (tests/all/migrate.rs, bench/migration.py).
 *
 * churn MIB STEPS HOT SLEEP_MS [LOG]: fills MIB MiB of heap with a pattern, then for STEPS
 * steps (0: forever) rewrites HOT 4 KiB pages (a moving window), appends "step N sum S" to
 * LOG (default /data/log.txt, held open all along), prints "step N" and sleeps SLEEP_MS ms. At the end
 * prints and logs "done checksum C" (over the whole buffer) and exits 0. Deterministic:
 * a run migrated any number of times prints and logs exactly what an uninterrupted run
 * does. Build: tests/guests/migrate/build.sh. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define PAGE 4096

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: churn MIB STEPS HOT SLEEP_MS\n");
        return 2;
    }
    size_t bytes = (size_t)atol(argv[1]) << 20;
    long steps = atol(argv[2]);
    size_t hot = (size_t)atol(argv[3]);
    long sleep_ms = atol(argv[4]);
    size_t pages = bytes / PAGE;
    uint8_t *buf = malloc(bytes);
    if (!buf)
        return 3;
    for (size_t i = 0; i < bytes; i += 8) {
        uint64_t v = (i * 0x9e3779b97f4a7c15ull) >> 17;
        memcpy(buf + i, &v, 8);
    }
    const char *log_path = argc > 5 ? argv[5] : "/data/log.txt";
    FILE *log = fopen(log_path, "w");
    if (!log) {
        fprintf(stderr, "cannot open %s\n", log_path);
        return 4;
    }
    printf("filled %zu MiB\n", bytes >> 20);
    fflush(stdout);
    uint64_t sum = 0;
    for (long step = 0; steps == 0 || step < steps; step++) {
        for (size_t k = 0; k < hot && pages; k++) {
            size_t p = ((size_t)step * 7 + k * 13) % pages;
            uint64_t *w = (uint64_t *)(buf + p * PAGE);
            for (int j = 0; j < PAGE / 8; j += 16)
                w[j] = w[j] * 31 + (uint64_t)step + k;
            sum += w[0];
        }
        fprintf(log, "step %ld sum %llu\n", step, (unsigned long long)sum);
        fflush(log);
        printf("step %ld\n", step);
        fflush(stdout);
        if (sleep_ms > 0) {
            struct timespec ts = {sleep_ms / 1000, (sleep_ms % 1000) * 1000000L};
            nanosleep(&ts, NULL);
        }
    }
    uint64_t c = 0;
    for (size_t i = 0; i < bytes; i += 64)
        c = (c ^ buf[i] ^ ((uint64_t)buf[i + 63] << 8)) * 0x100000001b3ull;
    printf("done checksum %llu\n", (unsigned long long)c);
    fprintf(log, "done checksum %llu\n", (unsigned long long)c);
    fclose(log);
    return 0;
}
