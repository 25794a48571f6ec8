/* mandelbrot: escape-time iteration over an n x n grid -- f64 arithmetic in registers. */
#include "common.h"

#define MAX_ITER 100

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 850);
    u64 sum = 0, inside = 0;
    for (long y = 0; y < n; y++) {
        double ci = 2.0 * y / n - 1.0;
        u64 row = 0;
        for (long x = 0; x < n; x++) {
            double cr = 3.0 * x / n - 2.0;
            double zr = 0, zi = 0;
            int i = 0;
            while (i < MAX_ITER && zr * zr + zi * zi <= 4.0) {
                double t = zr * zr - zi * zi + cr;
                zi = 2.0 * zr * zi + ci;
                zr = t;
                i++;
            }
            inside += i == MAX_ITER;
            row = row * 31 + (u64)i;
        }
        sum = mix64(sum, row);
    }
    printf("%llu of %ld points inside\n", (unsigned long long)inside, n * n);
    print_checksum(mix64(sum, inside));
    return 0;
}
