/* matmul: dense n x n f64 matrix product (i-k-j order) -- loads/stores streaming through the heap. */
#include "common.h"

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 380);
    double *a = xmalloc(sizeof(double) * n * n);
    double *b = xmalloc(sizeof(double) * n * n);
    double *c = xmalloc(sizeof(double) * n * n);
    for (long i = 0; i < n * n; i++) {
        a[i] = (double)((i * 7 + 3) % 101) / 16.0;
        b[i] = (double)((i * 13 + 5) % 97) / 32.0 - 1.0;
        c[i] = 0.0;
    }
    for (long i = 0; i < n; i++)
        for (long k = 0; k < n; k++) {
            double aik = a[i * n + k];
            for (long j = 0; j < n; j++)
                c[i * n + j] += aik * b[k * n + j];
        }
    u64 sum = 0;
    double trace = 0;
    for (long i = 0; i < n; i++) {
        trace += c[i * n + i];
        for (long j = 0; j < n; j += 7)
            sum = mix64(sum, f64_bits(c[i * n + j]));
    }
    printf("trace %.6f\n", trace);
    print_checksum(mix64(sum, f64_bits(trace)));
    return 0;
}
