#!/bin/sh
# Rebuilds the live-migration guests (churn.wasm, grow.wasm). The .wasm files are
# committed, so tests never need a wasm toolchain. Needs: clang + wasi-libc (see
# tests/guests/build.sh).
set -eu
cd "$(dirname "$0")"
for name in churn grow; do
    clang --target=wasm32-wasi -O2 -s -Wall -Wno-unused-result -o "$name.wasm" "$name.c"
    echo "built $name.wasm ($(wc -c < "$name.wasm") bytes)"
done
