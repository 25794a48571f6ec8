#!/usr/bin/env python3
"""Times tern's interpreter loop, its threaded code and wasmi side by side.

    python3 bench/threaded_ab.py REPS TERN [PROGRAM...]

Round-robin over the three (the order rotates each repetition), at each program's
default size; prints median user + system time and the ratios. The loop is the same
binary with TERN_INTERP_LOOP=1. wasmi comes from $TERN_WASMI or bench/out/tools.
"""
import math
import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SIZES = dict(fib=36, bfs=240000, fannkuch=9, hashmap=2000000, interp=80000, mandelbrot=850,
             matmul=380, memhog=256, nbody=600000, sha256=6, sort=1200000)
WASMI = os.environ.get("TERN_WASMI", str(ROOT / "out/tools/cargo/bin/wasmi"))
ENGINES = ["loop", "threaded", "wasmi"]


def command(engine, tern, program):
    wasm = str(ROOT / "programs" / f"{program}.wasm")
    env = {k: v for k, v in os.environ.items() if k != "TERN_INTERP_LOOP"}
    if engine == "wasmi":
        return [WASMI, "run", wasm, str(SIZES[program])], env
    if engine == "loop":
        env["TERN_INTERP_LOOP"] = "1"
    return [tern, "run", "--engine", "interp", wasm, str(SIZES[program])], env


def cpu_time(engine, tern, program):
    argv, env = command(engine, tern, program)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, check=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main():
    reps, tern = int(sys.argv[1]), sys.argv[2]
    if not os.access(WASMI, os.X_OK):
        sys.exit(f"threaded_ab: no wasmi at {WASMI} (set TERN_WASMI, or run bench/run.py once)")
    programs = sys.argv[3:] or list(SIZES)
    ratios = {"threaded / loop": [], "threaded / wasmi": [], "loop / wasmi": []}
    print("| program | loop (s) | threaded (s) | wasmi (s) | " + " | ".join(ratios) + " |")
    print("| :-- | --: | --: | --: | --: | --: | --: |")
    for program in programs:
        times = {e: [] for e in ENGINES}
        for i in range(reps):
            for engine in ENGINES[i % 3:] + ENGINES[:i % 3]:
                times[engine].append(cpu_time(engine, tern, program))
        m = {e: statistics.median(t) for e, t in times.items()}
        row = [m["threaded"] / m["loop"], m["threaded"] / m["wasmi"], m["loop"] / m["wasmi"]]
        for key, value in zip(ratios, row):
            ratios[key].append(value)
        cells = [f"{m[e]:.2f}" for e in ENGINES] + [f"{r:.3f}" for r in row]
        print(f"| {program} | " + " | ".join(cells) + " |", flush=True)
    means = [math.exp(sum(map(math.log, v)) / len(v)) for v in ratios.values()]
    print("| **geomean** | | | | " + " | ".join(f"**{g:.3f}**" for g in means) + " |")


if __name__ == "__main__":
    main()
