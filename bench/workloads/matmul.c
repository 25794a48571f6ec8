/*
 * matmul: dense n x n f64 matrix product C = A * B (i-k-j loop order).
 * Stresses: linear-memory loads/stores with address arithmetic, streaming
 * through rows of B and C (3 * n^2 * 8 bytes of heap, grown via memory.grow).
 * Checksum: exact bits of a position-weighted fold over C.
 */
#include "common.h"

EXPORT i64 run(int n) {
    usize cells = (usize)n * (usize)n;
    double *a = bench_alloc(cells * sizeof(double));
    double *b = bench_alloc(cells * sizeof(double));
    double *c = bench_alloc(cells * sizeof(double));

    /* Small exactly-representable values keep every engine's sums identical. */
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < n; j++) {
            a[i * n + j] = (double)((i * 7 + j * 3) % 17) - 8.0;
            b[i * n + j] = (double)((i * 5 + j * 11) % 13) * 0.5;
            c[i * n + j] = 0.0;
        }
    }

    for (int i = 0; i < n; i++) {
        double *crow = &c[i * n];
        for (int k = 0; k < n; k++) {
            double aik = a[i * n + k];
            const double *brow = &b[k * n];
            for (int j = 0; j < n; j++)
                crow[j] += aik * brow[j];
        }
    }

    u64 hash = 0;
    for (int i = 0; i < n; i++)
        hash = mix64(hash, f64_bits(c[i * n + (i * 31) % n]) ^ f64_bits(c[i * n + n - 1]));
    return (i64)hash;
}
