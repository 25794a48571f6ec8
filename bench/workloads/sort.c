/*
 * sort: quicksort (median of three, insertion sort below 16 elements) of n
 * pseudo-random u32 keys in linear memory.
 * Stresses: random-ish memory access, data-dependent branches, recursion.
 * Checksum: a position-weighted sum of the sorted array, or -1 if the result
 * is not sorted (so a miscompiled engine cannot pass by accident).
 */
#include "common.h"

static u32 xorshift32(u32 *state) {
    u32 x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *state = x;
}

static void insertion_sort(u32 *a, int lo, int hi) {
    for (int i = lo + 1; i <= hi; i++) {
        u32 v = a[i];
        int j = i - 1;
        while (j >= lo && a[j] > v) {
            a[j + 1] = a[j];
            j--;
        }
        a[j + 1] = v;
    }
}

static inline void swap(u32 *a, int i, int j) {
    u32 t = a[i];
    a[i] = a[j];
    a[j] = t;
}

/* Sorts a[lo..=hi]; recurses on the smaller side so depth stays O(log n). */
NOINLINE static void quicksort(u32 *a, int lo, int hi) {
    while (hi - lo >= 16) {
        int mid = lo + (hi - lo) / 2;
        if (a[mid] < a[lo]) swap(a, mid, lo);
        if (a[hi] < a[lo]) swap(a, hi, lo);
        if (a[hi] < a[mid]) swap(a, hi, mid);
        u32 pivot = a[mid];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i <= j) {
                swap(a, i, j);
                i++;
                j--;
            }
        }
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
    insertion_sort(a, lo, hi);
}

EXPORT i64 run(int n) {
    u32 *a = bench_alloc((usize)n * sizeof(u32));
    u32 state = 0x12345678u;
    for (int i = 0; i < n; i++)
        a[i] = xorshift32(&state);

    quicksort(a, 0, n - 1);

    u64 sum = 0;
    for (int i = 0; i < n; i++) {
        if (i > 0 && a[i - 1] > a[i])
            return -1;
        sum += (u64)a[i] * (u64)(i + 1);
    }
    return (i64)sum;
}
