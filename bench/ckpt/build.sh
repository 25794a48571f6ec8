#!/bin/sh
# Rebuilds bench/ckpt/fill.wasm, the guest of bench/checkpoint.py. The .wasm is committed,
# so running the benchmark needs no clang; run this after changing fill.c.
#
# Needs: Debian clang + wasi-libc (apt-get install -y clang lld wasi-libc
# libclang-rt-14-dev-wasm32). -mbulk-memory makes memcpy one memory.copy instruction, so
# filling a GiB takes seconds, not minutes, in the interpreter. Compiling and linking are
# separate steps: clang linking with -O runs binaryen's wasm-opt when it is on PATH, which
# rejects memory.copy (it is not told the feature is on).
set -eu
cd "$(dirname "$0")"
obj="$(mktemp --suffix=.o)"
clang --target=wasm32-wasi -O2 -mbulk-memory -Wall -c -o "$obj" fill.c
clang --target=wasm32-wasi -s -o fill.wasm "$obj"
rm -f "$obj"
echo "built fill.wasm ($(wc -c < fill.wasm) bytes)"
