#!/bin/sh
# Rebuilds the checkpoint test guests (tests/all/checkpoint_wasi.rs). The built .wasm
# files are committed next to their sources, so the tests never need a wasm toolchain;
# run this after changing a source.
#
# Needs: Debian clang + wasi-libc (apt-get install -y clang lld wasi-libc
# libclang-rt-14-dev-wasm32).
set -eu
cd "$(dirname "$0")"

for src in *.c; do
    out="${src%.c}.wasm"
    echo "clang $src -> $out"
    clang --target=wasm32-wasi -O2 -s -Wall -Wno-unused-result -o "$out" "$src"
done
