#!/bin/sh
# Rebuilds tern's WASI guest programs. The built .wasm files are committed next to their
# sources, so the tests never need a wasm toolchain; run this after changing a source.
#
# Needs: Debian clang + wasi-libc (apt-get install -y clang lld wasi-libc
# libclang-rt-14-dev-wasm32) and Rust's wasm32-wasip1 target (rustup target add
# wasm32-wasip1).
set -eu
cd "$(dirname "$0")"

for src in c/*.c; do
    out="${src%.c}.wasm"
    echo "clang $src -> $out"
    clang --target=wasm32-wasi -O2 -s -Wall -Wno-unused-result -o "$out" "$src"
done

for src in rust/*.rs; do
    out="${src%.rs}.wasm"
    echo "rustc $src -> $out"
    rustc --edition 2021 --target wasm32-wasip1 -O -C strip=symbols -o "$out" "$src"
done
