// tern's demo program: counts primes below a limit by trial division, printing
// progress as it goes, so that a checkpoint taken mid-way visibly resumes where it
// stopped. Build: examples/build.sh (clang --target=wasm32-wasi).
#include <stdio.h>
#include <stdlib.h>

static int is_prime(unsigned n) {
    if (n < 2) return 0;
    for (unsigned d = 2; d * d <= n; d++)
        if (n % d == 0) return 0;
    return 1;
}

int main(int argc, char **argv) {
    unsigned limit = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 2000000;
    unsigned step = limit / 10 ? limit / 10 : 1;
    unsigned count = 0;
    unsigned long long sum = 0;
    for (unsigned n = 0; n < limit; n++) {
        if (is_prime(n)) {
            count++;
            sum += n;
        }
        if ((n + 1) % step == 0)
            printf("%3u%%: %u primes below %u\n", (n + 1) / step * 10, count, n + 1);
    }
    printf("%u primes below %u, sum %llu\n", count, limit, sum);
    return 0;
}
