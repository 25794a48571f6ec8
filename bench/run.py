#!/usr/bin/env python3
"""Benchmarks tern's interpreter against wasmtime, wasmi and native code.

    python3 bench/run.py [--quick] [--reps N] [--tern PATH]

Runs every workload in bench/workloads on every engine, several repetitions
interleaved across engines, checks that all engines compute the same
checksum, prints a table of median wall times with tern/peer ratios, and
rewrites the marked section of docs/benchmarks.md.

  --quick       tiny sizes, one repetition, checksums only (for CI); does not
                touch the doc.  Prints "N passed, N failed".
  --reps N      repetitions per engine and workload (default 5).
  --tern PATH   use this tern binary instead of `cargo build --release`.

Exit status: 0 when every available engine agrees on every checksum; 1 on a
checksum mismatch or an engine that passed its smoke test but then failed.
A missing engine (not installed, does not build, fails the fib(10) smoke
test) is reported and skipped, never an error.  Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
from dataclasses import dataclass, field

import engines as eng
import report

DOC_PATH = eng.REPO_ROOT / "docs" / "benchmarks.md"
CHECKSUMS_PATH = eng.WORKLOAD_DIR / "checksums.json"
ENGINE_NAMES = ["tern", "wasmtime", "wasmi", "native"]  # table order


@dataclass(frozen=True)
class Workload:
    name: str
    n: int  # default size: roughly 1-3 s on wasmi
    quick_n: int  # --quick: a few milliseconds anywhere
    stresses: str


WORKLOADS = [
    Workload("fib", 38, 20, "recursive calls: call/return overhead"),
    Workload("sieve", 50_000_000, 100_000, "integer loops with byte loads/stores"),
    Workload("mandelbrot", 2_000, 64, "f64 arithmetic in locals, data-dependent loop"),
    Workload("nbody", 1_500_000, 1_000, "f64 with sqrt/div, floats in linear memory"),
    Workload("matmul", 520, 24, "f64 loads/stores streaming through a 6.5 MB heap"),
    Workload("sort", 4_000_000, 10_000, "quicksort: random access, unpredictable branches"),
    Workload("calls", 15_000_000, 10_000, "small non-inlined functions, call_indirect"),
    Workload("sha256", 250_000, 100, "32-bit rotates/shifts/adds (hash compression)"),
]


@dataclass
class Cell:
    """All repetitions of one workload on one engine."""

    times: list[float] = field(default_factory=list)
    results: list[int] = field(default_factory=list)
    error: str | None = None


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 bench/run.py",
        description="Benchmark tern's interpreter against wasmtime, wasmi and native code.",
        epilog="workloads (default n: what it stresses):\n"
        + "\n".join(f"  {w.name:11} {w.n:>11,}  {w.stresses}" for w in WORKLOADS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, one repetition, checksums only; leaves the doc alone",
    )
    parser.add_argument("--reps", type=int, help="repetitions (default 5, or 1 with --quick)")
    parser.add_argument("--tern", metavar="PATH", help="tern binary (skips cargo build)")
    parser.add_argument("--wasmtime", metavar="PATH", help="wasmtime binary to use")
    parser.add_argument("--wasmi", metavar="PATH", help="wasmi_cli binary to use")
    parser.add_argument(
        "--engines", default=",".join(ENGINE_NAMES), help="comma-separated subset of: %(default)s"
    )
    parser.add_argument(
        "--workloads",
        default=",".join(w.name for w in WORKLOADS),
        help="comma-separated subset of: %(default)s",
    )
    parser.add_argument(
        "--no-install", action="store_true", help="do not pip/cargo install missing peers"
    )
    parser.add_argument(
        "--no-doc",
        action="store_true",
        help=f"do not rewrite {DOC_PATH.relative_to(eng.REPO_ROOT)}",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300,
        help="seconds before one run counts as failed (default %(default)s)",
    )
    parser.add_argument(
        "--record-checksums",
        action="store_true",
        help=f"store agreed checksums in {CHECKSUMS_PATH.name} for later runs",
    )
    args = parser.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 5)
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    args.engines = _subset(parser, "--engines", args.engines, ENGINE_NAMES)
    names = _subset(parser, "--workloads", args.workloads, [w.name for w in WORKLOADS])
    args.workloads = [w for w in WORKLOADS if w.name in names]
    return args


def _subset(parser: argparse.ArgumentParser, flag: str, value: str, known: list[str]) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in known]
    if unknown or not chosen:
        parser.error(f"{flag}: unknown {unknown}; choose from {', '.join(known)}")
    return chosen


# --------------------------------------------------------------------------
# Engines


def prepare_engines(args: argparse.Namespace) -> list[eng.Engine]:
    """Finds, installs or builds each requested engine, then smoke-tests it."""
    install = not args.no_install
    makers = {
        "tern": lambda: eng.tern_engine(args.tern, build=args.tern is None),
        "wasmtime": lambda: eng.wasmtime_engine(args.wasmtime, install),
        "wasmi": lambda: eng.wasmi_engine(args.wasmi, install),
        "native": eng.native_engine,
    }
    engines = [makers[name]() for name in ENGINE_NAMES if name in args.engines]
    for engine in engines:
        eng.probe(engine, args.timeout)
        state = engine.version if engine.available else f"MISSING: {engine.missing}"
        log(f"{engine.name:9} {state}")
    return engines


# --------------------------------------------------------------------------
# Measuring


def size(workload: Workload, quick: bool) -> int:
    return workload.quick_n if quick else workload.n


def rotated(items: list, k: int) -> list:
    """The machine is shared and noisy; rotating which engine goes first each
    repetition spreads slow phases over all engines instead of one."""
    k %= len(items)
    return items[k:] + items[:k]


def measure(
    workloads: list[Workload], engines: list[eng.Engine], quick: bool, reps: int, timeout: float
) -> dict[tuple[str, str], Cell]:
    cells = {(w.name, e.name): Cell() for w in workloads for e in engines}
    for rep in range(reps):
        order = rotated(engines, rep)
        log(f"repetition {rep + 1}/{reps} (order: {', '.join(e.name for e in order)})")
        for w in workloads:
            n = size(w, quick)
            module = str(eng.WORKLOAD_DIR / f"{w.name}.wasm")
            timings = []
            for engine in order:
                cell = cells[w.name, engine.name]
                if cell.error:  # one failure is enough; don't wait on it again
                    continue
                try:
                    result, seconds = eng.run_once(engine.argv(module, str(n)), timeout)
                except eng.RunError as err:
                    cell.error = str(err)
                    timings.append(f"{engine.name} FAILED")
                    continue
                cell.results.append(result)
                cell.times.append(seconds)
                timings.append(f"{engine.name} {seconds:.3f}s")
            log(f"  {w.name} n={n}: {', '.join(timings)}")
    return cells


# --------------------------------------------------------------------------
# Checking


def load_checksums() -> dict[str, int]:
    """Checksums recorded by earlier agreeing runs, keyed "workload:n"."""
    try:
        return {k: int(v) for k, v in json.loads(CHECKSUMS_PATH.read_text()).items()}
    except FileNotFoundError:
        return {}


def save_checksums(rows: list[report.Row]) -> None:
    known = load_checksums()
    for row in rows:
        if row.checksum is not None and all(s in ("ok", "missing") for s in row.status.values()):
            known[f"{row.workload}:{row.n}"] = row.checksum
    CHECKSUMS_PATH.write_text(json.dumps(dict(sorted(known.items())), indent=2) + "\n")
    log(f"recorded {len(known)} checksums in {CHECKSUMS_PATH}")


def _majority(values: list[int]) -> int | None:
    """The most common value, ties going to the earliest engine.

    Any disagreement fails the run either way; this only decides which engine
    gets the MISMATCH label, so that one wrong engine listed first does not
    make all the right ones look wrong.  A recorded checksum, when there is
    one, takes precedence over this vote.
    """
    return max(values, key=lambda v: (values.count(v), -values.index(v)), default=None)


def check_workload(
    w: Workload,
    n: int,
    engines: list[eng.Engine],
    cells: dict[tuple[str, str], Cell],
    recorded: int | None,
    problems: list[str],
) -> report.Row:
    """Checks that every engine computed the same checksum, and the recorded
    one when known; appends a message to `problems` for each fault."""
    status, medians, values = {}, {}, {}
    for engine in engines:
        if not engine.available:
            status[engine.name] = "missing"
            continue
        cell = cells[w.name, engine.name]
        if cell.times:
            medians[engine.name] = statistics.median(cell.times)
        if cell.error:
            status[engine.name] = "error"
            problems.append(f"{w.name} n={n}: {engine.name} failed: {cell.error}")
        elif len(set(cell.results)) > 1:
            status[engine.name] = "MISMATCH"
            problems.append(
                f"{w.name} n={n}: {engine.name} is not deterministic: {sorted(set(cell.results))}"
            )
        else:
            values[engine.name] = cell.results[0]

    reference = recorded if recorded is not None else _majority(list(values.values()))
    wrong = [name for name, value in values.items() if value != reference]
    status.update({name: "MISMATCH" if name in wrong else "ok" for name in values})
    if wrong:
        got = ", ".join(f"{name}={value}" for name, value in values.items())
        if recorded is not None:
            got += (
                f"; expected {recorded} from {CHECKSUMS_PATH.name} (if the workload "
                "changed on purpose, re-record with --record-checksums)"
            )
        problems.append(f"CHECKSUM MISMATCH in {w.name} n={n}: {got}")
    return report.Row(w.name, n, medians, status, reference)


# --------------------------------------------------------------------------
# Main


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    command = shlex.join(["python3", "bench/run.py", *argv])
    engines = prepare_engines(args)
    runnable = [e for e in engines if e.available]
    if not runnable:
        log("no engine is available; nothing to run")
        return 1

    cells = measure(args.workloads, runnable, args.quick, args.reps, args.timeout)
    recorded = load_checksums()
    problems: list[str] = []
    rows = []
    for w in args.workloads:
        n = size(w, args.quick)
        rows.append(check_workload(w, n, engines, cells, recorded.get(f"{w.name}:{n}"), problems))

    if args.quick:
        print(report.checksum_table(rows, engines))
    else:
        print(report.timing_table(rows, engines))
    for engine in engines:
        if not engine.available:
            print(f"note: {engine.name} missing: {engine.missing}")
    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)

    if args.record_checksums and not problems:
        save_checksums(rows)
    if not (args.quick or args.no_doc):
        if problems:
            log(f"not updating {DOC_PATH}: results have errors")
        else:
            env = report.environment_lines(engines, command, args.reps)
            table = report.timing_table(rows, engines)
            report.update_doc(DOC_PATH, report.render_section(table, env))
            log(f"updated {DOC_PATH}")

    failed = sum(1 for row in rows if any(s in ("error", "MISMATCH") for s in row.status.values()))
    print(f"{len(rows) - failed} passed, {failed} failed")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
