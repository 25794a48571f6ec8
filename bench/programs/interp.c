/* interp: a small stack-based bytecode interpreter (switch dispatch) running a
 * program of nested loops with arithmetic -- indirect branches, a VM's hot loop. */
#include "common.h"

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, MOD, XOR, SHR, LT, JZ, JMP, DUP, POP, HALT };

/* Locals: 0 = n, 1 = i, 2 = acc, 3 = j, 4 = t.
 *   acc = 1; i = 0
 *   while i < n:
 *     j = 0
 *     while j < 8: acc = (acc * 31 + (i ^ j)) % 1000000007; t = acc >> 3; acc = acc ^ t; j = j + 1
 *     i = i + 1
 *   return acc */
static const i64 PROGRAM[] = {
    PUSH, 1, STORE, 2,
    PUSH, 0, STORE, 1,
    /* 8: outer loop test */
    LOAD, 1, LOAD, 0, LT, JZ, 74,
    PUSH, 0, STORE, 3,
    /* 19: inner loop test */
    LOAD, 3, PUSH, 8, LT, JZ, 65,
    LOAD, 2, PUSH, 31, MUL, LOAD, 1, LOAD, 3, XOR, ADD, PUSH, 1000000007, MOD, STORE, 2,
    LOAD, 2, PUSH, 3, SHR, STORE, 4,
    LOAD, 2, LOAD, 4, XOR, STORE, 2,
    LOAD, 3, PUSH, 1, ADD, STORE, 3,
    JMP, 19,
    /* 65 */
    LOAD, 1, PUSH, 1, ADD, STORE, 1, JMP, 8,
    /* 74 */
    LOAD, 2, HALT,
};

NOINLINE static i64 execute(const i64 *code, i64 n) {
    i64 stack[64], locals[8] = {n};
    int sp = 0;
    long pc = 0;
    for (;;) {
        i64 op = code[pc++];
        switch (op) {
        case PUSH: stack[sp++] = code[pc++]; break;
        case LOAD: stack[sp++] = locals[code[pc++]]; break;
        case STORE: locals[code[pc++]] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case MOD: sp--; stack[sp - 1] %= stack[sp]; break;
        case XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
        case SHR: sp--; stack[sp - 1] >>= stack[sp]; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case JZ: { i64 target = code[pc++]; if (stack[--sp] == 0) pc = target; break; }
        case JMP: pc = code[pc]; break;
        case DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case POP: sp--; break;
        case HALT: return stack[sp - 1];
        default: printf("bad opcode %lld at %ld\n", (long long)op, pc - 1); exit(1);
        }
    }
}

int main(int argc, char **argv) {
    long n = arg_size(argc, argv, 80000);
    if (PROGRAM[74] != LOAD || PROGRAM[65] != LOAD || PROGRAM[19] != LOAD || PROGRAM[8] != LOAD) {
        printf("bad jump targets\n");
        return 1;
    }
    i64 r = execute(PROGRAM, n);
    printf("result %lld\n", (long long)r);
    print_checksum((u64)r);
    return 0;
}
