/* sort: n pseudo-random 32-bit keys sorted by an own quicksort (median of three,
 * insertion sort below 16) -- random access, unpredictable branches, recursion. */
#include "common.h"

static void insertion(u32 *a, long n) {
    for (long i = 1; i < n; i++) {
        u32 v = a[i];
        long j = i;
        while (j > 0 && a[j - 1] > v) {
            a[j] = a[j - 1];
            j--;
        }
        a[j] = v;
    }
}

NOINLINE static void quicksort(u32 *a, long n) {
    while (n > 16) {
        u32 x = a[0], y = a[n / 2], z = a[n - 1];
        u32 pivot = x < y ? (y < z ? y : (x < z ? z : x)) : (x < z ? x : (y < z ? z : y));
        long i = 0, j = n - 1;
        for (;;) {
            while (a[i] < pivot) i++;
            while (a[j] > pivot) j--;
            if (i >= j) break;
            u32 t = a[i]; a[i] = a[j]; a[j] = t;
            i++, j--;
        }
        /* Recurse into the smaller half, loop on the larger: bounded stack. */
        if (j + 1 < n - j - 1) {
            quicksort(a, j + 1);
            a += j + 1, n -= j + 1;
        } else {
            quicksort(a + j + 1, n - j - 1);
            n = j + 1;
        }
    }
    insertion(a, n);
}

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 1200000);
    u32 *a = xmalloc(sizeof(u32) * (n + 1));
    u64 state = 0x9e3779b97f4a7c15ull;
    for (long i = 0; i < n; i++)
        a[i] = (u32)(rng_next(&state) >> 32);
    quicksort(a, n);
    u64 sum = 0;
    for (long i = 0; i < n; i++) {
        if (i > 0 && a[i - 1] > a[i]) {
            printf("not sorted at %ld\n", i);
            return 1;
        }
        if (i % 64 == 0) sum = mix64(sum, a[i]);
    }
    printf("sorted %ld keys\n", n);
    print_checksum(mix64(sum, (u64)n));
    return 0;
}
