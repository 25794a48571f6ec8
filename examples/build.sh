#!/bin/sh
# Rebuilds the example programs (needs Debian's clang, lld and wasi-libc).
set -eu
cd "$(dirname "$0")"
clang --target=wasm32-wasi -O2 -s -o primes.wasm primes.c
