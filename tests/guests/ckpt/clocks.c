/* Clock guest: reads the monotonic clock (the raw WASI call and clock_gettime) and the
 * process CPU-time clock over and over with work in between, and counts every reading
 * that is below an earlier one. The earlier readings live in linear memory, so a restore
 * whose clock started again from zero, or from the new process's own start, is caught.
 * Prints counts and checks only, never times, so every run prints the same.
 * argv[1] = steps. Exits 0. */
#include "common.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <wasi/api.h>

static uint64_t raw(__wasi_clockid_t id) {
    __wasi_timestamp_t t = 0;
    __wasi_clock_time_get(id, 1, &t);
    return t;
}

static uint64_t libc_ns(clockid_t id) {
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int steps = argc > 1 ? atoi(argv[1]) : 100;
    uint64_t first = raw(__WASI_CLOCKID_MONOTONIC), mono = first;
    uint64_t cpu = libc_ns(CLOCK_PROCESS_CPUTIME_ID);
    int backwards = 0, cpu_backwards = 0;
    for (int i = 0; i < steps; i++) {
        busy(300);
        uint64_t a = raw(__WASI_CLOCKID_MONOTONIC);
        backwards += a < mono;
        busy(300);
        uint64_t b = libc_ns(CLOCK_MONOTONIC);
        backwards += b < a;
        mono = b > a ? b : a;
        uint64_t c = libc_ns(CLOCK_PROCESS_CPUTIME_ID);
        cpu_backwards += c < cpu;
        cpu = c;
        if (i % 25 == 0)
            printf("step %d: monotonic backwards %d\n", i, backwards);
    }
    struct timespec res;
    printf("monotonic resolution ok: %d\n",
           clock_getres(CLOCK_MONOTONIC, &res) == 0 && (res.tv_sec || res.tv_nsec));
    printf("realtime after 2020: %d\n", time(NULL) > 1577836800);
    printf("monotonic backwards: %d, cpu backwards: %d, advanced: %d\n", backwards,
           cpu_backwards, mono > first);
    return 0;
}
