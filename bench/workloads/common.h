/*
 * Shared helpers for the benchmark workloads.
 *
 * Every workload is a freestanding module: no libc, no imports, one export
 * `long long run(int n)` returning a checksum of the work done.  That keeps
 * the modules runnable by any engine's `--invoke` flag.  The same sources are
 * also compiled natively (with native_main.c) for the "native" column, so
 * nothing here may depend on wasm except behind `#ifdef __wasm__`.
 */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

typedef unsigned int u32;
typedef unsigned long long u64;
typedef long long i64;
typedef __SIZE_TYPE__ usize;

#define NOINLINE __attribute__((noinline))
#define EXPORT __attribute__((visibility("default")))

#ifdef __wasm__
/* Provided by wasm-ld: first byte after static data and the shadow stack. */
extern unsigned char __heap_base;

/*
 * Bump allocator on top of memory.grow.  Sizes of the memory-bound workloads
 * depend on n, so we grow linear memory on demand instead of reserving the
 * largest size statically.  Nothing is ever freed: each benchmark process
 * calls run() once.
 */
static usize bench_heap_top;

static inline void *bench_alloc(usize bytes) {
    if (bench_heap_top == 0)
        bench_heap_top = (usize)&__heap_base;
    usize start = (bench_heap_top + 15) & ~(usize)15;
    usize end = start + bytes;
    usize have = __builtin_wasm_memory_size(0) * 65536;
    if (end > have) {
        usize pages = (end - have + 65535) / 65536;
        if (__builtin_wasm_memory_grow(0, pages) == (usize)-1)
            __builtin_trap();
    }
    bench_heap_top = end;
    return (void *)start;
}
#else
void *malloc(usize);
static inline void *bench_alloc(usize bytes) {
    void *p = malloc(bytes);
    if (!p)
        __builtin_trap();
    return p;
}
#endif

/* Reinterpret an f64 as its bits so float results are checked exactly. */
static inline u64 f64_bits(double x) {
    union { double d; u64 u; } v;
    v.d = x;
    return v.u;
}

/* 64-bit mixing step (splitmix64 finaliser) for folding values into a checksum. */
static inline u64 mix64(u64 h, u64 x) {
    h ^= x + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    return h;
}

#endif
