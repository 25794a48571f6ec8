#!/usr/bin/env python3
"""The benchmark suite: tern against peer runtimes and native code, plus tern's
checkpoint/restore and migration figures, in one command.

    python3 bench/run.py [--quick] [--reps N] [--tern PATH] ...

Runs every program of bench/programs (WASI commands in C and Rust, each taking
its size as argv[1] and printing `checksum N` last) on every engine: native
(clang -O2 / rustc -O builds of the same sources), wasmtime, wasmi, tern fast
(armed with a checkpoint trigger) and tern interp.  Repetitions are interleaved
across engines with the engine order rotated; cells are medians; ratios are
against native and against wasmtime.  Every engine's checksum must equal
native's (and the recorded one in bench/programs/checksums.json).  Then it
measures checkpoint latency, snapshot size and restore latency by touched
memory (bench/checkpoint.py's measurement) and, when bench/migration.py exists,
migration downtime (`python3 bench/migration.py --json`), and regenerates the
results section of docs/benchmarks.md and the plots in docs/img/.

  --quick       tiny sizes, one repetition, a 1 MiB checkpoint/restore: a
                correctness check for CI; touches neither doc nor plots.
                Prints "N passed, N failed".

Exit status: 0 when every available engine printed native's checksum for every
program (and the C/R measurement worked); 1 otherwise.  A missing engine (not
installed, does not build, fails the fib(10) smoke test) is reported and
skipped, never an error.  Python 3 standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import engines as eng
import report

DOC_PATH = eng.REPO_ROOT / "docs" / "benchmarks.md"
CHECKSUMS_PATH = eng.PROGRAM_DIR / "checksums.json"
ENGINE_NAMES = ["native", "wasmtime", "wasmi", "tern fast", "tern interp"]  # table order
MIGRATION_SCRIPT = eng.BENCH_DIR / "migration.py"
CR_START, CR_END = "<!-- checkpoint:start -->", "<!-- checkpoint:end -->"


@dataclass(frozen=True)
class Workload:
    name: str
    lang: str
    n: int  # default size: about 1-3 s on tern's interpreter, tens of ms or more natively
    quick_n: int  # --quick: milliseconds anywhere
    what: str
    needs_dir: bool = False  # gets a preopened scratch directory as argv[2]


WORKLOADS = [
    Workload("matmul", "C", 380, 20, "n×n f64 matrix product, i-k-j loops over the heap"),
    Workload("nbody", "Rust", 600_000, 1_000, "n steps of the 5-body simulation: f64, sqrt, div"),
    Workload("fannkuch", "Rust", 9, 6, "fannkuch-redux over all n! permutations"),
    Workload("sha256", "C", 6, 0, "SHA-256 of an n MiB generated buffer (0: 1000 bytes)"),
    Workload("bfs", "Rust", 240_000, 1_000, "BFS from 8 sources, n vertices, ~10 edges each"),
    Workload("sort", "C", 1_200_000, 1_000, "quicksort of n random u32 keys"),
    Workload("hashmap", "Rust", 2_000_000, 1_000, "n inserts/lookups/updates/removes, std HashMap"),
    Workload("interp", "C", 80_000, 200, "bytecode VM (switch dispatch), n outer iterations"),
    Workload("fib", "C", 36, 15, "recursive fib(n): calls and returns"),
    Workload("mandelbrot", "C", 850, 40, "n×n escape-time grid, 100 iterations, f64"),
    Workload("memhog", "C", 256, 1, "n MiB malloc'ed, written, strided read-modify-write"),
    Workload("fileio", "C", 128, 1, "n MiB file: 4 KiB writes, 3 passes of 4 KiB reads + seeks",
             needs_dir=True),  # fmt: skip
]


@dataclass
class Cell:
    """All repetitions of one program on one engine."""

    times: list[float] = field(default_factory=list)
    results: list[str] = field(default_factory=list)
    error: str | None = None


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def key(name: str) -> str:
    """An engine's name as written on the command line: `tern-fast`."""
    return name.replace(" ", "-")


# --------------------------------------------------------------------------
# Command line


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python3 bench/run.py",
        description="tern against wasmtime, wasmi and native code; C/R and migration figures.",
        epilog="programs (language, default n: what it does):\n"
        + "\n".join(f"  {w.name:10} {w.lang:4} {w.n:>9,}  {w.what}" for w in WORKLOADS),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, one repetition, checksums only; leaves doc and plots alone",
    )
    parser.add_argument("--reps", type=int, help="repetitions (default 5, or 1 with --quick)")
    parser.add_argument("--tern", metavar="PATH", help="tern binary (skips cargo build)")
    parser.add_argument("--wasmtime", metavar="PATH", help="wasmtime binary to use")
    parser.add_argument("--wasmi", metavar="PATH", help="wasmi binary to use")
    all_engines = ",".join(key(n) for n in ENGINE_NAMES)
    parser.add_argument(
        "--engines", default=all_engines, help="comma-separated subset of: %(default)s"
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
        help=f"do not rewrite {DOC_PATH.relative_to(eng.REPO_ROOT)} and docs/img/",
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
        help=f"store native's checksums in {CHECKSUMS_PATH.name} for later runs",
    )
    parser.add_argument(
        "--cr-sizes",
        default="1,16,64,256,1024",
        help="touched MiB of the checkpoint/restore measurement (default %(default)s; "
        "1 with --quick)",
    )
    parser.add_argument(
        "--cr-reps", type=int, default=3, help="C/R repetitions per size below 1 GiB (default 3)"
    )
    parser.add_argument(
        "--cr-engine",
        choices=["interp", "fast"],
        default="interp",
        help="tern engine of the C/R measurement (default %(default)s; ignored by a tern "
        "without `run --engine`, which has only the interpreter)",
    )
    parser.add_argument(
        "--no-cr", action="store_true", help="skip the checkpoint/restore measurement"
    )
    parser.add_argument(
        "--no-migration", action="store_true", help="skip bench/migration.py"
    )
    parser.add_argument(
        "--require",
        default="",
        metavar="ENGINES",
        help="comma-separated engines whose absence is an error (for CI); `tern-fast` "
        "is excused while tern has no `run --engine` flag",
    )
    args = parser.parse_args(argv)
    args.reps = args.reps or (1 if args.quick else 5)
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    chosen = _subset(parser, "--engines", args.engines, [key(n) for n in ENGINE_NAMES])
    args.engines = [n for n in ENGINE_NAMES if key(n) in chosen]
    names = _subset(parser, "--workloads", args.workloads, [w.name for w in WORKLOADS])
    args.workloads = [w for w in WORKLOADS if w.name in names]
    required = _subset(parser, "--require", args.require, [key(n) for n in ENGINE_NAMES]) \
        if args.require else []  # fmt: skip
    args.require = [n for n in ENGINE_NAMES if key(n) in required]
    try:
        args.cr_sizes = [1] if args.quick else [int(s) for s in args.cr_sizes.split(",")]
    except ValueError:
        parser.error("--cr-sizes: comma-separated whole MiB")
    return args


def _subset(parser: argparse.ArgumentParser, flag: str, value: str, known: list[str]) -> list[str]:
    chosen = [v.strip() for v in value.split(",") if v.strip()]
    unknown = [v for v in chosen if v not in known]
    if unknown or not chosen:
        parser.error(f"{flag}: unknown {unknown}; choose from {', '.join(known)}")
    return chosen


# --------------------------------------------------------------------------
# Engines


def prepare_engines(args: argparse.Namespace) -> tuple[list[eng.Engine], Path | None]:
    """Finds, installs or builds each requested engine, then smoke-tests it.
    Returns the engines (table order) and the tern binary, if there is one."""
    install = not args.no_install
    (eng.OUT_DIR / "tmp").mkdir(parents=True, exist_ok=True)
    tern, tern_error = None, None
    if "tern fast" in args.engines or "tern interp" in args.engines or not args.no_cr:
        tern, tern_error = eng.tern_binary(args.tern, build=args.tern is None)
    made: dict[str, eng.Engine] = {}
    if "native" in args.engines:
        made["native"] = eng.native_engine([w.name for w in WORKLOADS])
    if "wasmtime" in args.engines:
        made["wasmtime"] = eng.wasmtime_engine(args.wasmtime, install)
    if "wasmi" in args.engines:
        made["wasmi"] = eng.wasmi_engine(args.wasmi, install)
    for engine in eng.tern_engines(tern, tern_error, args.timeout):
        made[engine.name] = engine
    engines = [made[name] for name in ENGINE_NAMES if name in args.engines]
    for engine in engines:
        eng.probe(engine, args.timeout)
        state = engine.version if engine.available else f"MISSING: {engine.missing}"
        log(f"{engine.name:11} {state}")
    return engines, tern


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
    scratch = Path(tempfile.mkdtemp(prefix="files-", dir=eng.OUT_DIR / "tmp"))
    for rep in range(reps):
        order = rotated(engines, rep)
        log(f"repetition {rep + 1}/{reps} (order: {', '.join(e.name for e in order)})")
        for w in workloads:
            n = size(w, quick)
            directory = str(scratch) if w.needs_dir else None
            args = [str(n)] + ([directory] if directory else [])
            timings = []
            for engine in order:
                cell = cells[w.name, engine.name]
                if cell.error:  # one failure is enough; don't wait on it again
                    continue
                try:
                    result, seconds = eng.run_once(engine.command(w.name, args, directory), timeout)
                except eng.RunError as err:
                    cell.error = str(err)
                    timings.append(f"{engine.name} FAILED")
                    continue
                cell.results.append(result)
                cell.times.append(seconds)
                timings.append(f"{engine.name} {seconds:.3f}s")
            log(f"  {w.name} n={n}: {', '.join(timings)}")
    try:
        scratch.rmdir()
    except OSError:
        pass
    return cells


# --------------------------------------------------------------------------
# Checking


def load_checksums() -> dict[str, str]:
    """Checksums recorded from native runs, keyed "program:n"."""
    try:
        return {k: str(v) for k, v in json.loads(CHECKSUMS_PATH.read_text()).items()}
    except FileNotFoundError:
        return {}


def save_checksums(rows: list[report.Row]) -> None:
    known = load_checksums()
    for row in rows:
        if row.checksum is not None and row.status.get("native") == "ok":
            known[f"{row.workload}:{row.n}"] = row.checksum
    CHECKSUMS_PATH.write_text(json.dumps(dict(sorted(known.items())), indent=2) + "\n")
    log(f"recorded {len(known)} checksums in {CHECKSUMS_PATH}")


def check_workload(
    w: Workload,
    n: int,
    engines: list[eng.Engine],
    cells: dict[tuple[str, str], Cell],
    recorded: str | None,
    problems: list[str],
) -> report.Row:
    """Checks every engine's checksum against native's (or, without a native
    result, the recorded one); appends a message to `problems` for each fault."""
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

    reference = values.get("native", recorded)
    if reference is None and values:  # neither native nor a record: the majority
        votes = list(values.values())
        reference = max(votes, key=votes.count)
    wrong = [name for name, value in values.items() if value != reference]
    status.update({name: "MISMATCH" if name in wrong else "ok" for name in values})
    if wrong:
        got = ", ".join(f"{name}={value}" for name, value in values.items())
        problems.append(f"CHECKSUM MISMATCH in {w.name} n={n}: {got} (reference {reference})")
    if recorded is not None and reference is not None and reference != recorded:
        problems.append(
            f"CHECKSUM MISMATCH in {w.name} n={n}: native printed {reference}, "
            f"{CHECKSUMS_PATH.name} says {recorded} (if the program changed on purpose, "
            "re-record with --record-checksums)"
        )
        status.update({name: "MISMATCH" for name in values})
    return report.Row(w.name, w.lang, n, medians, status, reference)


# --------------------------------------------------------------------------
# Checkpoint / restore (bench/checkpoint.py's measurement)


@dataclass
class CrPoint:
    mib: int
    checkpoint_ms: float
    restore_ms: float
    snapshot_mib: float
    touched_mib: float
    lz4_mib: float | None


def checkpoint_restore(
    tern: Path,
    engine: str | None,
    sizes: list[int],
    reps: int,
    quick: bool,
    command: str,
    load: float,
) -> tuple[str, list[CrPoint]]:
    """Runs bench/checkpoint.py's measurement with `tern run/restore --engine
    ENGINE` (no flag when None); returns its doc section and the points of the
    plots.  Raises checkpoint.Failed."""
    import checkpoint as ck

    ck.ENGINE[:] = ["--engine", engine] if engine else []

    tern_path = str(tern)
    big_reps = 1 if quick else 2
    points = []
    with tempfile.TemporaryDirectory(prefix="cr-", dir=eng.OUT_DIR / "tmp") as tmp:
        work = Path(tmp)
        baseline = statistics.median(ck.startup(tern_path) for _ in range(1 if quick else 7))
        results = []
        for mib in sizes:
            started = time.perf_counter()
            result = ck.measure(tern_path, mib, reps if mib < 1024 else big_reps, work)
            results.append(result)
            log(f"checkpoint/restore of {mib} MiB measured in {time.perf_counter() - started:.1f} s")
            ref = result.reference
            points.append(
                CrPoint(
                    mib=mib,
                    checkpoint_ms=statistics.median(c.pause_to_durable for c in result.checkpoints)
                    * 1e3,
                    restore_ms=statistics.median(t - baseline for t in result.restores) * 1e3,
                    snapshot_mib=result.snapshot_bytes / ck.MIB,
                    touched_mib=result.nonzero_pages * 65536 / ck.MIB,
                    lz4_mib=None if ref.lz4_bytes is None else ref.lz4_bytes / ck.MIB,
                )
            )
    env = ck.environment(tern_path, command, (reps, big_reps), baseline, load)
    return ck.render(results, env, baseline), points


def cr_summary(points: list[CrPoint]) -> str:
    rows = [
        [
            f"{p.mib:,} MiB",
            f"{p.checkpoint_ms:.1f}",
            f"{p.restore_ms:.1f}",
            f"{p.snapshot_mib:,.2f} MiB",
            "–" if p.lz4_mib is None else f"{p.lz4_mib:,.2f} MiB",
        ]
        for p in points
    ]
    header = ["touched memory", "checkpoint (ms)", "restore (ms)", "snapshot", "LZ4 of the memory"]
    return report.markdown(header, rows, right_from=1)


def cr_plots(points: list[CrPoint]) -> list[str]:
    latency = report.IMG_DIR / "cr-latency.svg"
    report.svg.line_chart(
        latency,
        "tern checkpoint and restore latency by touched memory",
        {
            "checkpoint (pause → durable)": [(p.mib, p.checkpoint_ms) for p in points],
            "restore (minus startup)": [(p.mib, p.restore_ms) for p in points],
        },
        "touched memory (MiB, log scale)",
        "milliseconds (log scale)",
    )
    sizes = report.IMG_DIR / "cr-size.svg"
    series = {"snapshot file": [(p.mib, p.snapshot_mib) for p in points]}
    if all(p.lz4_mib for p in points):
        series["LZ4 (C library) of the memory"] = [(p.mib, p.lz4_mib) for p in points]
    series["touched memory"] = [(p.mib, p.touched_mib) for p in points]
    report.svg.line_chart(
        sizes,
        "tern snapshot size by touched memory",
        series,
        "touched memory (MiB, log scale)",
        "MiB (log scale)",
    )
    return ["img/cr-latency.svg", "img/cr-size.svg"]


# --------------------------------------------------------------------------
# Migration (bench/migration.py, written separately)


def migration(timeout: float) -> tuple[list[str], list[str]]:
    """Runs `python3 bench/migration.py --json`; returns (doc lines, plot links).
    Never fails the run: the script is another component's."""
    shown = MIGRATION_SCRIPT.relative_to(eng.REPO_ROOT)
    if not MIGRATION_SCRIPT.exists():
        return [f"Not available: {shown} missing."], []
    log(f"running python3 {shown} --json")
    try:
        proc = subprocess.run(
            [sys.executable, str(MIGRATION_SCRIPT), "--json"],
            capture_output=True, text=True, timeout=timeout * 3, cwd=eng.REPO_ROOT,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return [f"Not available: `python3 {shown} --json` timed out."], []
    if proc.returncode != 0:
        tail = eng._tail(proc.stderr or proc.stdout)
        return [f"Not available: `python3 {shown} --json` failed (exit {proc.returncode}): {tail}"], []
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        return [f"Not available: `python3 {shown} --json` did not print JSON."], []
    lines = [f"From `python3 {shown} --json` (pre-copy against stop-and-copy):", ""]
    rows = _json_rows(data)
    if rows:
        header = list(dict.fromkeys(k for row in rows for k in row))
        body = [[_cell(row.get(k)) for k in header] for row in rows]
        lines.append(report.markdown(header, body, right_from=1))
        scalars = {k: v for k, v in data.items() if not isinstance(v, (list, dict))} \
            if isinstance(data, dict) else {}  # fmt: skip
        lines += [""] + [f"- {k}: {_cell(v)}" for k, v in scalars.items()] if scalars else []
        links = _migration_plot(rows)
    else:
        lines += ["```json", json.dumps(data, indent=2)[:4000], "```"]
        links = []
    return lines, links


def _json_rows(data) -> list[dict]:
    """The first list of objects in the JSON (the top level, or a value of it)."""
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        return data
    if isinstance(data, dict):
        for value in data.values():
            rows = _json_rows(value)
            if rows:
                return rows
    return []


def _cell(value) -> str:
    if isinstance(value, float):
        # Three significant digits, never in exponent form (2920, not 2.92e+03).
        return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return "–" if value is None else str(value)


def _migration_plot(rows: list[dict]) -> list[str]:
    """Downtime against memory size, when the rows have such numeric fields."""
    numeric = [k for k in rows[0] if all(isinstance(r.get(k), (int, float)) for r in rows)]
    x_key = next((k for k in numeric if any(s in k.lower() for s in ("mib", "size", "memory"))),
                 None)  # fmt: skip
    y_keys = [k for k in numeric if "downtime" in k.lower()]
    if not x_key or not y_keys:
        return []
    # A text column with a few values (e.g. "mode": pre-copy / stop-and-copy) splits
    # the rows into one line each.
    texts = [k for k in rows[0] if all(isinstance(r.get(k), str) for r in rows)]
    split = next((k for k in texts if 1 < len({r[k] for r in rows}) <= 4), None)
    series: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        for k in y_keys:
            name = f"{r[split]}: {k}" if split else k
            series.setdefault(name, []).append((r[x_key], r[k]))
    path = report.IMG_DIR / "migration-downtime.svg"
    report.svg.line_chart(
        path,
        "tern migration downtime",
        series,
        x_key,
        "downtime",
    )
    return ["img/migration-downtime.svg"]


# --------------------------------------------------------------------------
# The generated section


def render_section(
    rows: list[report.Row],
    engines: list[eng.Engine],
    env: list[str],
    speed_plot: str | None,
    cr: tuple[list[CrPoint], list[str]] | str,
    migration_lines: list[str],
    migration_links: list[str],
) -> str:
    programs = report.markdown(
        ["program", "lang", "default n", "what it does"],
        [[f"`{w.name}`", w.lang, f"{w.n:,}", w.what] for w in WORKLOADS],
        right_from=2,
        left_from=3,
    )
    out = [
        report.SECTION_START,
        "## Results",
        "",
        "_Generated by `python3 bench/run.py`; do not edit by hand, re-run the command instead._",
        "",
        *env,
        "",
        "### Programs",
        "",
        "WASI commands in `bench/programs/` (source and committed `.wasm` side by side; "
        "`bench/programs/build.sh` rebuilds them); each takes its size as its first "
        "argument and prints `checksum N` last, which every engine must reproduce.",
        "",
        programs,
        "",
        "### Run time",
        "",
        "Median seconds per run (lower is better).  `missing`: the engine was not "
        "available for this run (see the list above).",
        "",
        report.timing_table(rows, engines),
        "",
        "### Relative to native",
        "",
    ]
    if speed_plot:
        out += [f"![Run time relative to native, per program and engine]({speed_plot})", ""]
    out += [
        "Each engine's time divided by native's (above 1: slower than native):",
        "",
        report.ratio_table(rows, engines, report.NATIVE),
        "",
        "### Relative to wasmtime",
        "",
        "Each engine's time divided by wasmtime's (above 1: slower than wasmtime):",
        "",
        report.ratio_table(rows, engines, report.WASMTIME),
        "",
        "### Checkpoint and restore by touched memory",
        "",
    ]
    import checkpoint as ck

    if isinstance(cr, str):
        out += [cr, ""]
    else:
        points, links = cr
        out += [f"![{Path(link).stem}]({link})" for link in links]
        out += [
            "",
            "Medians, from the measurement described in *Checkpoint and restore* below "
            f"(`{shlex.join(['tern', 'run', *ck.ENGINE, '--checkpoint-on', 'signal'])}` on "
            "`bench/ckpt/fill.wasm`, a tern "
            f"{'without `--engine`, i.e. the interpreter' if not ck.ENGINE else 'engine as shown'}; "
            "checkpoint = "
            "pause → snapshot durable, restore = `tern restore` to the program's first "
            "line minus process startup):",
            "",
            cr_summary(points),
            "",
        ]
    out += ["### Migration downtime", ""]
    if migration_links:
        out += [f"![{Path(link).stem}]({link})" for link in migration_links] + [""]
    out += [*migration_lines, report.SECTION_END]
    return "\n".join(out)


# --------------------------------------------------------------------------
# Main


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    started = time.perf_counter()
    load = os.getloadavg()[0]
    command = shlex.join(["python3", "bench/run.py", *argv])
    engines, tern = prepare_engines(args)
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
        print()
        print(report.ratio_table(rows, engines, report.NATIVE))
        print()
        print(report.ratio_table(rows, engines, report.WASMTIME))
    for engine in engines:
        if not engine.available:
            print(f"note: {engine.name} missing ({engine.missing})")
            excused = engine.missing == eng.TERN_WITHOUT_ENGINE_FLAG
            if engine.name in args.require and not excused:
                problems.append(f"{engine.name} is required but missing: {engine.missing}")
    for name in args.require:
        if name not in args.engines:
            problems.append(f"{name} is required but not among --engines")

    # Checkpoint / restore.
    cr: tuple[list[CrPoint], list[str]] | str = "Not measured (`--no-cr`)."
    cr_section = None
    if not args.no_cr:
        if tern is None:
            cr = "Not available: no tern binary."
            problems.append("checkpoint/restore: no tern binary")
        else:
            import checkpoint as ck

            try:
                engine = args.cr_engine if eng.tern_knows_engine_flag(str(tern)) else None
                cr_section, points = checkpoint_restore(
                    tern, engine, args.cr_sizes, 1 if args.quick else args.cr_reps, args.quick,
                    command, load,
                )  # fmt: skip
                print()
                print(cr_summary(points))
                cr = (points, [] if args.quick or args.no_doc else cr_plots(points))
            except (ck.Failed, OSError) as err:
                cr = f"Failed: {err}"
                problems.append(f"checkpoint/restore: {err}")

    # Migration.
    migration_lines, migration_links = ["Not measured (`--no-migration`)."], []
    if not (args.quick or args.no_migration):
        migration_lines, migration_links = migration(args.timeout)
        for line in migration_lines:
            print(line)

    for problem in problems:
        print(f"ERROR: {problem}", file=sys.stderr)
    if args.record_checksums and not problems:
        save_checksums(rows)
    if not (args.quick or args.no_doc):
        if problems:
            log(f"not updating {DOC_PATH}: results have errors")
        else:
            plot = "img/speed.svg" if report.speed_plot(
                rows, engines, report.IMG_DIR / "speed.svg") else None  # fmt: skip
            env = report.environment_lines(engines, command, args.reps, load)
            section = render_section(
                rows, engines, env, plot, cr, migration_lines, migration_links
            )
            sections = [(report.SECTION_START, report.SECTION_END, section)]
            if cr_section:
                sections.append((CR_START, CR_END, cr_section))
            report.update_doc(DOC_PATH, sections)
            log(f"updated {DOC_PATH} and {report.IMG_DIR}")

    failed = sum(1 for row in rows if any(s in ("error", "MISMATCH") for s in row.status.values()))
    print(f"{len(rows) - failed} passed, {failed} failed")
    log(f"done in {time.perf_counter() - started:.0f} s")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
