/*
 * fib: naive doubly-recursive Fibonacci.
 * Stresses: function call/return overhead and shallow-but-frequent stack
 * frames.  fib(n) makes ~1.6 * 1.618^n calls; the result is the checksum.
 */
#include "common.h"

NOINLINE static i64 fib(int n) {
    if (n < 2)
        return n;
    return fib(n - 1) + fib(n - 2);
}

EXPORT i64 run(int n) {
    return fib(n);
}
