#!/bin/sh
# Rebuilds churn.wasm (the live-migration guest). The .wasm is committed, so tests never
# need a wasm toolchain. Needs: clang + wasi-libc (see tests/guests/build.sh).
set -eu
cd "$(dirname "$0")"
clang --target=wasm32-wasi -O2 -s -Wall -Wno-unused-result -o churn.wasm churn.c
echo "built churn.wasm ($(wc -c < churn.wasm) bytes)"
