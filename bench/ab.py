#!/usr/bin/env python3
"""A/B timing of two tern binaries on bench workloads, runs alternating A, B, A, B, ...

    python3 bench/ab.py A_TERN B_TERN [--reps N] [workload:n ...]

Prints, per workload, the min and median wall time of each binary and B/A ratios.
Used for the "Tracing off" table in docs/benchmarks.md.
"""

import argparse
import statistics
import subprocess
import time
from pathlib import Path

WORKLOADS = Path(__file__).parent / "workloads"
DEFAULT = ["fib:34", "sieve:5000000", "sha256:30000", "calls:5000000", "nbody:300000"]


def once(tern: str, name: str, n: str) -> float:
    start = time.perf_counter()
    subprocess.run(
        [tern, "run", "--engine", "interp", "--invoke", "run", str(WORKLOADS / f"{name}.wasm"), n],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("workloads", nargs="*", default=DEFAULT)
    args = parser.parse_args()
    print("| workload | A min | B min | B/A min | A median | B median | B/A median |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for spec in args.workloads:
        name, n = spec.split(":")
        times = {args.a: [], args.b: []}
        for rep in range(args.reps):
            # Alternate which binary goes first, so drifts of a shared machine cancel.
            order = (args.a, args.b) if rep % 2 == 0 else (args.b, args.a)
            for tern in order:
                times[tern].append(once(tern, name, n))
        a, b = times[args.a], times[args.b]
        am, bm = min(a), min(b)
        ad, bd = statistics.median(a), statistics.median(b)
        print(
            f"| {name} {n} | {am:.3f} s | {bm:.3f} s | {bm / am:.3f} | "
            f"{ad:.3f} s | {bd:.3f} s | {bd / ad:.3f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
