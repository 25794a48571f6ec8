/* memhog: allocates n MiB, writes every 64-bit word, then makes a pass of
 * read-modify-writes in a scattered order (page-sized strides) and sums it --
 * memory growth, page faults, cache and TLB misses. */
#include "common.h"

int main(int argc, char **argv) {
    long mib = arg_size(argc, argv, 256);
    size_t words = ((size_t)mib << 20) / 8;
    if (words == 0) words = 512;
    u64 *m = xmalloc(words * 8);
    for (size_t i = 0; i < words; i++)
        m[i] = i * 0x9e3779b97f4a7c15ull;
    /* Visit every word once, 4 KiB apart: word (k * 512 + k / (words/512)) ... */
    size_t stride = 512, lanes = words / stride;
    u64 sum = 0;
    for (size_t lane = 0; lane < stride; lane++)
        for (size_t k = 0; k < lanes; k++) {
            size_t i = k * stride + lane;
            m[i] ^= m[i] >> 29;
            sum += m[i];
        }
    for (size_t i = 0; i < words; i += 4099)
        sum = mix64(sum, m[i]);
    printf("touched %zu MiB\n", words * 8 >> 20);
    print_checksum(sum);
    return 0;
}
