/* Shared helpers for tern's WASI guest programs: errno names and checked printing.
 * Every line a guest prints is compared with the expected output (and with wasmtime's
 * output when it is installed). Lines starting with '~' state tern-specific behaviour
 * (where wasmtime traps or answers ENOTSUP) and are left out of the wasmtime comparison. */
#ifndef TERN_GUEST_COMMON_H
#define TERN_GUEST_COMMON_H

#include <errno.h>
#include <stdio.h>
#include <string.h>

static inline const char *ename(int e) {
    switch (e) {
    case 0: return "OK";
    case EACCES: return "EACCES";
    case EAGAIN: return "EAGAIN";
    case EBADF: return "EBADF";
    case EEXIST: return "EEXIST";
    case EFAULT: return "EFAULT";
    case EINVAL: return "EINVAL";
    case EISDIR: return "EISDIR";
    case ELOOP: return "ELOOP";
    case ENOENT: return "ENOENT";
    case ENOTDIR: return "ENOTDIR";
    case ENOTEMPTY: return "ENOTEMPTY";
    case ENOTSUP: return "ENOTSUP";
    case EPERM: return "EPERM";
    case ESPIPE: return "ESPIPE";
    case ENOTCAPABLE: return "ENOTCAPABLE";
    case ENOTSOCK: return "ENOTSOCK";
    case ENOTCONN: return "ENOTCONN";
    case EPIPE: return "EPIPE";
    case EXDEV: return "EXDEV";
    default: return "E?";
    }
}

/* Prints "what: OK" for r >= 0, else "what: ENAME" from errno. */
static inline void report(const char *what, int r) {
    printf("%s: %s\n", what, r >= 0 ? "OK" : ename(errno));
}

/* Prints a raw WASI errno (the return value of a __wasi_* call). */
static inline void report_wasi(const char *what, int errno_value) {
    printf("%s: %d\n", what, errno_value);
}

#endif
