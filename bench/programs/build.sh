#!/usr/bin/env bash
# Rebuilds bench/programs/*.wasm (WASI commands, wasm32-wasip1) from their sources.
#
# The .wasm files are committed next to the sources, so running the benchmarks
# needs no wasm toolchain; run this only after editing a program.  Needs
#   C:    clang, lld and wasi-libc (Debian: apt-get install clang lld wasi-libc
#         libclang-rt-14-dev-wasm32)
#   Rust: rustc with the wasm32-wasip1 target (rustup target add wasm32-wasip1)
# Usage: bench/programs/build.sh [NAME...]   (default: every program)
#
# The native builds of the same sources (clang -O2, rustc -C opt-level=3) are
# made by bench/run.py itself, into bench/out/native/.
set -euo pipefail
cd "$(dirname "$0")"

names=("$@")
if [ ${#names[@]} -eq 0 ]; then
    for src in *.c *.rs; do names+=("${src%.*}"); done
fi
for name in "${names[@]}"; do
    if [ -f "$name.c" ]; then
        # Linking without -O keeps wasm-opt (binaryen), when on PATH, from
        # rewriting clang's output; -s drops the debug names.
        obj="$(mktemp --suffix=.o)"
        clang --target=wasm32-wasi -O2 -c -o "$obj" "$name.c"
        clang --target=wasm32-wasi -s -o "$name.wasm" "$obj"
        rm -f "$obj"
    elif [ -f "$name.rs" ]; then
        rustc --edition 2021 --target wasm32-wasip1 -C opt-level=3 -C strip=symbols \
            -C panic=abort -o "$name.wasm" "$name.rs"
    else
        echo "no source for $name" >&2
        exit 1
    fi
    echo "built $name.wasm ($(wc -c < "$name.wasm") bytes)"
done
