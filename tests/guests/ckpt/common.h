/* Shared by the checkpoint guests: a fixed pseudo-random sequence, a hash, and busy work
 * that puts some thousands of instructions between two system calls, so that checkpoints
 * at random instruction counts land both between and around the calls. */
#ifndef TERN_CKPT_COMMON_H
#define TERN_CKPT_COMMON_H

#include <stddef.h>
#include <stdint.h>

static uint32_t rng_state = 12345;

static inline uint32_t lcg(void) {
    rng_state = rng_state * 1103515245u + 12345u;
    return rng_state >> 8;
}

/* FNV-1a, 64-bit. */
static inline uint64_t fnv(uint64_t h, const void *data, size_t n) {
    const unsigned char *p = data;
    while (n--) {
        h ^= *p++;
        h *= 0x100000001b3ull;
    }
    return h;
}

#define FNV_INIT 0xcbf29ce484222325ull

/* About 5 instructions per step. The result is printed, so the loop is not optimised out. */
static inline uint32_t busy(int steps) {
    uint32_t x = 0;
    while (steps--)
        x ^= lcg();
    return x;
}

#endif
