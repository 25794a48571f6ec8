#!/usr/bin/env bash
# Builds the self-hosted tern (interpreter engine only) for wasm32-wasip1 into
# target/tern.wasm. A separate target directory (target/selfhost) keeps this build from
# waiting on the lock of a host build or a running `cargo test`.
# Usage: scripts/build-tern-wasm.sh [--debug]
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip1; then
    echo "error: the wasm32-wasip1 Rust target is missing: rustup target add wasm32-wasip1" >&2
    exit 1
fi

profile=release
flags=(--release)
if [ "${1:-}" = "--debug" ]; then
    profile=debug
    flags=()
fi

# Optional engines (such as a `fast` feature) are host-only: build without default features.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target/selfhost}"
cargo build --quiet "${flags[@]}" --no-default-features --target wasm32-wasip1 --bin tern
mkdir -p target
cp "$CARGO_TARGET_DIR/wasm32-wasip1/$profile/tern.wasm" target/tern.wasm.tmp
mv target/tern.wasm.tmp target/tern.wasm
echo "target/tern.wasm"
