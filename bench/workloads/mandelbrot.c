/*
 * mandelbrot: escape-time iteration over an n x n grid of the complex plane
 * (the Benchmarks Game formulation: 50 iterations, escape radius 2).
 * Stresses: f64 add/mul/compare kept in locals, data-dependent inner loop.
 * Checksum: the bitmap of in-set points, folded row by row.
 */
#include "common.h"

#define MAX_ITER 50

EXPORT i64 run(int n) {
    u64 hash = 0;
    double inv = 2.0 / n;
    for (int y = 0; y < n; y++) {
        double ci = y * inv - 1.0;
        u64 bits = 0;
        int nbits = 0;
        for (int x = 0; x < n; x++) {
            double cr = x * inv - 1.5;
            double zr = 0.0, zi = 0.0, tr = 0.0, ti = 0.0;
            int i = 0;
            for (; i < MAX_ITER && tr + ti <= 4.0; i++) {
                zi = 2.0 * zr * zi + ci;
                zr = tr - ti + cr;
                tr = zr * zr;
                ti = zi * zi;
            }
            bits = (bits << 1) | (i == MAX_ITER);
            if (++nbits == 64) {
                hash = mix64(hash, bits);
                bits = 0;
                nbits = 0;
            }
        }
        hash = mix64(hash, bits);
    }
    return (i64)hash;
}
