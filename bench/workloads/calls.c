/*
 * calls: an interpreter-style dispatch loop over many tiny functions.
 * Stresses: direct calls to small non-inlined functions, indirect calls
 * through a function-pointer table (call_indirect with its signature check),
 * and argument/result passing.  Each of the n steps makes 5 calls.
 * Checksum: the final state of two accumulators.
 */
#include "common.h"

typedef u32 (*op_fn)(u32 acc, u32 x);

NOINLINE static u32 op_add(u32 acc, u32 x) { return acc + x; }
NOINLINE static u32 op_sub(u32 acc, u32 x) { return acc - x; }
NOINLINE static u32 op_xor(u32 acc, u32 x) { return acc ^ (x * 0x9e3779b9u); }
NOINLINE static u32 op_rotl(u32 acc, u32 x) { return (acc << (x & 31)) | (acc >> ((32 - (x & 31)) & 31)); }
NOINLINE static u32 op_mul(u32 acc, u32 x) { return acc * (x | 1); }
NOINLINE static u32 op_or_shift(u32 acc, u32 x) { return acc ^ (acc >> 7) ^ x; }
NOINLINE static u32 op_neg(u32 acc, u32 x) { return ~acc + (x >> 3); }
NOINLINE static u32 op_avg(u32 acc, u32 x) { return (acc >> 1) + (x >> 1); }

/* Not const-foldable: the index comes from run-time state. */
static op_fn const ops[8] = {
    op_add, op_sub, op_xor, op_rotl, op_mul, op_or_shift, op_neg, op_avg,
};

NOINLINE static u32 next_input(u32 i) { return i * 2654435761u + 12345u; }
NOINLINE static u32 select_op(u32 acc, u32 x) { return (acc ^ x) >> 29; }
NOINLINE static u64 accumulate(u64 total, u32 acc) { return total * 31 + acc; }

/* Two levels of direct calls around one indirect call. */
NOINLINE static u32 step(u32 acc, u32 i) {
    u32 x = next_input(i);
    return ops[select_op(acc, x)](acc, x);
}

EXPORT i64 run(int n) {
    u32 acc = 1;
    u64 total = 0;
    for (int i = 0; i < n; i++) {
        acc = step(acc, (u32)i);
        total = accumulate(total, acc);
    }
    return (i64)mix64(total, acc);
}
