#!/usr/bin/env python3
"""Slowdown of the self-hosted tern (target/tern.wasm inside wasmtime) against native
tern's interpreter, side by side in one run (docs/benchmarks.md, "Self-hosted tern.wasm").

Columns: native `tern run --invoke run MODULE N`; the same command line given to
tern.wasm in the wasmtime CLI; and tern.wasm again with a file trigger armed that never
fires (`--checkpoint-on file:...`), which makes it run in polled slices (see
docs/self-hosted.md). Repetitions are interleaved with the column order rotated, cells
are median wall times of whole processes. wasmtime's compiled-module cache is warmed by
one untimed run first, so tern.wasm's own compilation is not in the figures.

    python3 bench/selfhost.py [--reps N] [--tern PATH] [--wasmtime PATH] [--tern-wasm PATH]

Needs a built native tern (default target/release/tern), tern.wasm
(scripts/build-tern-wasm.sh) and the wasmtime CLI (TERN_WASMTIME or on the PATH).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKLOADS = ROOT / "bench" / "workloads"

# Smaller than bench/run.py's defaults: tern.wasm runs several times longer.
SIZES = {"fib": 32, "sieve": 10_000_000, "sort": 1_000_000, "sha256": 60_000, "mandelbrot": 800}


def timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"error: {' '.join(argv)} exited with {done.returncode}: {done.stderr.strip()}")
    return elapsed, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--tern", default=str(ROOT / "target" / "release" / "tern"))
    parser.add_argument("--tern-wasm", default=str(ROOT / "target" / "tern.wasm"))
    parser.add_argument("--wasmtime", default=os.environ.get("TERN_WASMTIME") or shutil.which("wasmtime"))
    args = parser.parse_args()
    for what, path in [("tern", args.tern), ("tern.wasm", args.tern_wasm), ("wasmtime", args.wasmtime)]:
        if not path or not Path(path).exists():
            sys.exit(f"error: {what} not found ({path}); see the docstring of bench/selfhost.py")

    trigger = WORKLOADS / "never-created-trigger"
    hosted = [args.wasmtime, "run", "--dir", str(WORKLOADS), args.tern_wasm, "run"]
    columns = {
        "native tern": lambda m, n: [args.tern, "run", "--engine", "interp", "--invoke", "run", m, n],
        "tern.wasm": lambda m, n: [*hosted, "--invoke", "run", m, n],
        "tern.wasm, file trigger armed": lambda m, n: [
            *hosted, "--checkpoint-on", f"file:{trigger}", "--invoke", "run", m, n
        ],
    }
    timed(columns["tern.wasm"](str(WORKLOADS / "fib.wasm"), "10"))  # warm wasmtime's cache

    rows = []
    for name, n in SIZES.items():
        module = str(WORKLOADS / f"{name}.wasm")
        times: dict[str, list[float]] = {c: [] for c in columns}
        outputs = set()
        order = list(columns)
        for rep in range(args.reps):
            for column in order[rep % len(order):] + order[: rep % len(order)]:
                elapsed, out = timed(columns[column](module, str(n)))
                times[column].append(elapsed)
                outputs.add(out)
        if len(outputs) != 1:
            sys.exit(f"error: {name}: the columns disagree: {sorted(outputs)}")
        rows.append((name, n, {c: statistics.median(t) for c, t in times.items()}))

    native = "native tern"
    print(f"- Command: `python3 bench/selfhost.py --reps {args.reps}`")
    print(f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.system()} {platform.release()}, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"- wasmtime: {subprocess.run([args.wasmtime, '--version'], capture_output=True, text=True).stdout.strip()}")
    print()
    header = ["workload", "n", *(f"{c} (s)" for c in columns), "tern.wasm / native", "armed / native"]
    print("| " + " | ".join(header) + " |")
    print("| :-- | --: |" + " --: |" * (len(header) - 2))
    for name, n, median in rows:
        cells = [f"{median[c]:.2f}" for c in columns]
        ratios = [f"{median[c] / median[native]:.2f}×" for c in list(columns)[1:]]
        print(f"| `{name}` | {n:,} | " + " | ".join(cells + ratios) + " |")


if __name__ == "__main__":
    main()
