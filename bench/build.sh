#!/usr/bin/env bash
# Rebuilds bench/workloads/*.wasm from their C sources.
#
# The .wasm files are committed, so running the benchmarks does not need
# clang; run this only after editing a workload.  Needs clang and wasm-ld
# (Debian: apt-get install clang lld).
#
# Flags, and why:
#   --target=wasm32 -nostdlib   freestanding module: no libc, no imports
#   -mcpu=mvp                   pin the feature set so every engine accepts the
#                               output and newer clangs produce the same code
#   -ffreestanding              stops clang turning loops into memset/memcpy
#                               calls, which would be unresolved without libc
#   --no-entry --export=run     a library-style module whose only API is run(n)
#   -z stack-size=1 MiB         headroom for recursive workloads (fib, sort)
#
# Compiling and linking are separate steps on purpose: when clang links with
# an -O flag and finds binaryen's wasm-opt on PATH, it silently runs wasm-opt,
# which ignores __attribute__((noinline)) and inlines the call-heavy
# workloads away.  Linking without -O keeps the output what clang emitted,
# whether or not binaryen is installed.
set -euo pipefail

cd "$(dirname "$0")/workloads"
CC="${CC:-clang}"

for src in *.c; do
    [ "$src" = native_main.c ] && continue
    name="${src%.c}"
    obj="$(mktemp --suffix=.o)"
    "$CC" --target=wasm32 -mcpu=mvp -O2 -ffreestanding -c -o "$obj" "$src"
    "$CC" --target=wasm32 -nostdlib \
        -Wl,--no-entry -Wl,--export=run -Wl,-z,stack-size=1048576 \
        -o "$name.wasm" "$obj"
    rm -f "$obj"
    echo "built $name.wasm ($(wc -c < "$name.wasm") bytes)"
done
