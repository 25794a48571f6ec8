/* fib: naive doubly recursive Fibonacci -- call/return overhead. */
#include "common.h"

NOINLINE static u64 fib(u32 n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 36);
    u64 r = fib((u32)n);
    printf("fib(%ld) = %llu\n", n, (unsigned long long)r);
    print_checksum(r);
    return 0;
}
