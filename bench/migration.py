#!/usr/bin/env python3
"""Live migration: downtime, total time and bytes of pre-copy vs. stop-and-copy.

For each memory size (64 MiB, 1 GiB) and write rate, and each mode, this script starts
`tern serve` (loopback, its own port) and `tern run --control SOCK` of
tests/guests/migrate/churn.wasm (fills the memory, then rewrites HOT 4 KiB pages every
SLEEP ms, forever), waits until the memory is filled and the program has run 0.5 s, runs
`tern migrate --to ... SOCK` and parses its final report (and `tern serve`'s log line:
its restore time after the final state arrived, of which the continuation clones):

downtime  from the pause of the program at the source to the target's "running" reply
          and the source's commit (the source measures both ends; the target replies
          once the program is restored, and runs it on the commit)
total     from the connection to the "running" reply
bytes     bytes written to the connection (module, pages, files, state)

Then it stops the processes it started. Writes the table into docs/benchmarks.md between
`<!-- migration:begin -->` and `<!-- migration:end -->`. Needs a release build
(`cargo build --release`). Python standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUEST = ROOT / "tests" / "guests" / "migrate" / "churn.wasm"
DOC = ROOT / "docs" / "benchmarks.md"
TERN = ROOT / "target" / "release" / "tern"

# (label, hot pages per step, sleep ms per step)
RATES = [
    ("small working set: 16 pages / 10 ms", 16, 10),
    ("256 pages / 5 ms", 256, 5),
    ("4096 pages, no pause", 4096, 0),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_line(path: Path, text: str, limit: float) -> None:
    end = time.time() + limit
    while time.time() < end:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.05)
    raise TimeoutError(f"`{text}` not seen in {path}")


def one(mib: int, hot: int, sleep_ms: int, stop_and_copy: bool, engine: str) -> dict:
    with tempfile.TemporaryDirectory(prefix="tern-mig-bench-") as tmp:
        t = Path(tmp)
        (t / "a").mkdir()
        (t / "b").mkdir()
        port = free_port()
        serve_err = t / "serve.err"
        run_out = t / "run.out"
        sock = t / "ctl.sock"
        serve = subprocess.Popen(
            [TERN, "serve", "--listen", f"127.0.0.1:{port}", "--dir", f"{t/'b'}::/data",
             "--engine", engine, "--max-migrations", "1"],
            stdout=subprocess.DEVNULL, stderr=open(serve_err, "w"), stdin=subprocess.DEVNULL)
        run = subprocess.Popen(
            [TERN, "run", "--engine", engine, "--control", str(sock), "--dir",
             f"{t/'a'}::/data", GUEST,
             str(mib), "0", str(hot), str(sleep_ms)],
            stdout=open(run_out, "w"), stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        try:
            wait_line(serve_err, "listening on", 10)
            wait_line(run_out, "step 1\n", 300)
            time.sleep(0.5)
            cmd = [TERN, "migrate", "--to", f"127.0.0.1:{port}", str(sock)]
            if stop_and_copy:
                cmd.insert(2, "--stop-and-copy")
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            m = re.search(r"downtime ([\d.]+) ms, total ([\d.]+) ms, rounds (\d+), bytes (\d+)",
                          res.stderr)
            if res.returncode != 0 or not m:
                raise RuntimeError(f"migration failed: {res.stderr}")
            # The target logs its line once the program has started running there.
            restore = clones = None
            end = time.time() + 10
            while time.time() < end and restore is None:
                r = re.search(r"restored in ([\d.]+) ms(?: \(clones ([\d.]+) ms\))?",
                              serve_err.read_text(errors="replace"))
                if r:
                    restore = float(r[1])
                    clones = float(r[2]) if r[2] else None
                else:
                    time.sleep(0.05)
            return {"downtime": float(m[1]), "total": float(m[2]), "rounds": int(m[3]),
                    "bytes": int(m[4]), "restore": restore, "clones": clones}
        finally:
            for p in (run, serve):
                p.kill()
                p.wait()


def machine() -> str:
    cpu = "?"
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, Linux {platform.release()}"


def main() -> int:
    global TERN
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="64,1024", help="memory sizes in MiB")
    ap.add_argument("--rates", default="0,1,2",
                    help="write rates to run, as indices into RATES (0: small working set)")
    ap.add_argument("--engine", default="fast", choices=["fast", "interp"],
                    help="engine of both the source and the target")
    ap.add_argument("--tern", type=Path, default=TERN, help="the tern binary")
    ap.add_argument("--no-write", action="store_true", help="do not update docs/benchmarks.md")
    ap.add_argument("--json", action="store_true",
                    help="print the rows as JSON on stdout (for bench/run.py); implies --no-write")
    args = ap.parse_args()
    TERN = args.tern
    records = []
    if not TERN.exists():
        print("build first: cargo build --release", file=sys.stderr)
        return 1
    rows = []
    for mib in [int(s) for s in args.sizes.split(",")]:
        for label, hot, sleep_ms in [RATES[int(i)] for i in args.rates.split(",")]:
            pre = one(mib, hot, sleep_ms, False, args.engine)
            sac = one(mib, hot, sleep_ms, True, args.engine)
            for mode, r in (("pre-copy", pre), ("stop-and-copy", sac)):
                print(f"  {mib} MiB, {label}, {mode}: target restore {r['restore']} ms "
                      f"(clones {r['clones']} ms)", file=sys.stderr, flush=True)
            row = (f"| {mib} MiB | {label} | {pre['downtime']:.2f} ms | {sac['downtime']:.1f} ms "
                   f"| {pre['total']:.0f} ms | {sac['total']:.0f} ms | {pre['rounds']} "
                   f"| {pre['bytes'] / 1048576:.1f} MiB | {sac['bytes'] / 1048576:.1f} MiB |")
            print(row, flush=True, file=sys.stderr if args.json else sys.stdout)
            rows.append(row)
            records.append({
                "memory_mib": mib, "writes": label,
                "downtime_precopy_ms": pre["downtime"], "downtime_stopcopy_ms": sac["downtime"],
                "total_precopy_ms": pre["total"], "total_stopcopy_ms": sac["total"],
                "rounds_precopy": pre["rounds"],
                "sent_precopy_mib": pre["bytes"] / 1048576, "sent_stopcopy_mib": sac["bytes"] / 1048576,
            })
    if args.json:
        print(json.dumps({"machine": machine(), "rows": records}))
        return 0
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    table = "\n".join([
        "## Live migration",
        "",
        f"`python3 bench/migration.py` on {machine()}, {date}; loopback, "
        f"{args.engine} on both sides, release build, dirty tracking by userfaultfd write-protect (docs/migration.md). "
        "Guest: tests/guests/migrate/churn.wasm (memory filled with a poorly compressible "
        "pattern, then HOT 4 KiB pages rewritten per step). Downtime: pause at the source "
        "→ target replies \"running\" and the source commits.",
        "",
        "| memory | writes | downtime pre-copy | downtime stop-and-copy | total pre-copy "
        "| total stop-and-copy | rounds (pre-copy) | bytes pre-copy | bytes stop-and-copy |",
        "| --: | :-- | --: | --: | --: | --: | --: | --: | --: |",
        *rows,
    ])
    if not args.no_write:
        doc = DOC.read_text()
        begin, end = "<!-- migration:begin -->", "<!-- migration:end -->"
        block = f"{begin}\n{table}\n{end}"
        if begin in doc:
            doc = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, doc,
                         flags=re.S)
        else:
            doc = doc.rstrip("\n") + "\n\n" + block + "\n"
        DOC.write_text(doc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
