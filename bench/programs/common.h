/*
 * Shared helpers of the C benchmark programs: WASI commands (wasm32-wasi,
 * `_start`) and, compiled by clang -O2 for the host, the "native" column.
 *
 * Every program takes its size as argv[1] (a default when absent), does its
 * work, and prints one last line `checksum N` (N an unsigned 64-bit decimal)
 * that every engine must reproduce exactly.  Nothing here may depend on the
 * target: no libm calls whose last bit differs between libcs, no address-
 * or time-dependent values in the checksum.
 */
#ifndef BENCH_PROGRAMS_COMMON_H
#define BENCH_PROGRAMS_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef uint32_t u32;
typedef uint64_t u64;
typedef int64_t i64;

#define NOINLINE __attribute__((noinline))

/* The size parameter: argv[1] as a number, or `fallback` without one. */
static inline long arg_size(int argc, char **argv, long fallback) {
    if (argc < 2)
        return fallback;
    char *end;
    long n = strtol(argv[1], &end, 10);
    if (*end != '\0' || n < 0) {
        fprintf(stderr, "usage: %s [N]\n", argv[0]);
        exit(2);
    }
    return n;
}

/* Reinterprets an f64 as its bits, so float results are compared exactly. */
static inline u64 f64_bits(double x) {
    u64 u;
    memcpy(&u, &x, sizeof u);
    return u;
}

/* One step of folding a value into a checksum (splitmix64-style mixing). */
static inline u64 mix64(u64 h, u64 x) {
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    return h;
}

/* xorshift64*: the deterministic input generator of every program. */
static inline u64 rng_next(u64 *state) {
    u64 x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545f4914f6cdd1dull;
}

static inline void print_checksum(u64 sum) {
    printf("checksum %llu\n", (unsigned long long)sum);
}

static inline void *xmalloc(size_t bytes) {
    void *p = malloc(bytes);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", bytes);
        exit(3);
    }
    return p;
}

#endif
