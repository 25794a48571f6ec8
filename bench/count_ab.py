#!/usr/bin/env python3
"""A/B of two tern binaries by instructions executed, not by time.

    python3 bench/count_ab.py A_TERN B_TERN [--engine interp] [program:size ...]

Runs each bench program (bench/programs, at a size that takes a second or so under
the counter) once per binary under valgrind's cachegrind and prints the instructions
each executed, their ratio B/A and the geometric mean of the ratios. The count of one
run does not depend on what else the machine is doing, so it settles changes that
the wall clock of a shared machine cannot (the same binary's times there vary by a
third from run to run). It is a proxy: it does not see cache misses, branch
mispredictions or stalls, so a change that wins here is then timed with
`bench/ab.py` or `bench/run.py`. Needs `valgrind` (`apt-get install valgrind`).
"""

import argparse
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

PROGRAMS = Path(__file__).parent / "programs"
DEFAULT = [
    "fib:27", "bfs:24000", "fannkuch:8", "hashmap:200000", "interp:8000", "mandelbrot:200",
    "matmul:120", "memhog:16", "nbody:60000", "sha256:1", "sort:120000",
]  # fmt: skip


def instructions(tern: str, engine: str, name: str, size: str) -> int:
    """Instructions one run of `name` at `size` executes (cachegrind's `I refs`)."""
    command = [
        "valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
        tern, "run", "--engine", engine, str(PROGRAMS / f"{name}.wasm"), size,
    ]  # fmt: skip
    run = subprocess.run(command, capture_output=True, text=True)
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no output"])[-1]
        sys.exit(f"{tern} on {name} {size} failed: {last}")
    found = re.search(r"I\s+refs:\s+([\d,]+)", run.stderr)
    if found is None:
        sys.exit(f"no instruction count in valgrind's output for {name}")
    return int(found.group(1).replace(",", ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--engine", default="interp")
    parser.add_argument("programs", nargs="*", default=DEFAULT)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        sys.exit("valgrind not found (apt-get install valgrind)")
    print("| program | A instructions | B instructions | B/A |")
    print("| --- | ---: | ---: | ---: |")
    logs = []
    for spec in args.programs:
        name, size = spec.split(":")
        a = instructions(args.a, args.engine, name, size)
        b = instructions(args.b, args.engine, name, size)
        logs.append(math.log(b / a))
        print(f"| {name} {size} | {a:,} | {b:,} | {b / a:.3f} |", flush=True)
    print(f"| geometric mean | | | {math.exp(sum(logs) / len(logs)):.3f} |")


if __name__ == "__main__":
    main()
