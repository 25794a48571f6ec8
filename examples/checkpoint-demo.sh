#!/usr/bin/env bash
# tern's main job in one go: run a WASI program, checkpoint it mid-way into a snapshot
# file, look inside the snapshot, resume it in a new process, and check that the
# output is exactly that of an uninterrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
tern=target/release/tern
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
program=examples/primes.wasm
limit=400000

echo "== run, checkpoint after 100,000,000 instructions"
status=0
"$tern" run --checkpoint-on instructions:100000000 --snapshot "$work/primes.tern" \
    "$program" "$limit" | tee "$work/before.txt" || status=$?
[ "$status" -eq 75 ] || { echo "expected exit status 75 (checkpointed), got $status"; exit 1; }

echo "== inspect the snapshot"
"$tern" inspect "$work/primes.tern"

echo "== restore in a new process"
"$tern" restore "$work/primes.tern" --module "$program" | tee "$work/after.txt"

echo "== compare with an uninterrupted run"
"$tern" run "$program" "$limit" > "$work/straight.txt"
if cat "$work/before.txt" "$work/after.txt" | cmp -s - "$work/straight.txt"; then
    echo "identical: checkpointed + restored output equals the uninterrupted run"
else
    echo "DIFFERENT output after restore"; exit 1
fi
