/*
 * sieve: sieve of Eratosthenes over [0, n).
 * Stresses: tight integer loops with byte loads/stores and branches
 * (bounds of the inner loop change every iteration of the outer one).
 * Checksum: number of primes below n mixed with their sum.
 */
#include "common.h"

EXPORT i64 run(int n) {
    if (n < 2)
        return 0;
    /* Fresh memory from memory.grow is zeroed, but native malloc is not, so
       clear explicitly; 1 = composite. */
    unsigned char *composite = bench_alloc((usize)n);
    for (int i = 0; i < n; i++)
        composite[i] = (unsigned char)(i < 2);

    for (int i = 2; (i64)i * i < n; i++) {
        if (composite[i])
            continue;
        for (int j = i * i; j < n; j += i)
            composite[j] = 1;
    }

    u64 count = 0, sum = 0;
    for (int i = 2; i < n; i++) {
        if (!composite[i]) {
            count++;
            sum += (u64)i;
        }
    }
    return (i64)mix64(count, sum);
}
