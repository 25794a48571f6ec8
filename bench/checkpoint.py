#!/usr/bin/env python3
"""Checkpoint latency, snapshot size and restore latency of tern against touched memory.

The guest (bench/ckpt/fill.wasm) fills N MiB with partly compressible data, prints
"filled ...", and blocks reading stdin, an open empty pipe.  For each N:

checkpoint  SIGUSR1 interrupts the read; tern captures, compresses and writes the
            snapshot (temp file, fsync, rename).  Latency = the moment the snapshot
            appears under its final name (this script polls for it every ~0.1 ms) minus
            the capture time tern itself records in the snapshot's trigger section
            (`unix_nanos`, taken when the program paused; both are CLOCK_REALTIME on this
            machine).  So it is pause -> durable, measured without changing tern.  The
            time from the signal to durable is shown too (it adds signal delivery and
            the interrupted read's return).  Not counted: tern's fsync of the directory
            after the rename (~1 ms), and process exit (freeing a GiB of memory is not
            part of a checkpoint).
restore     `tern restore` given /dev/null as stdin: the re-issued read returns end of
            file, and the program prints "resumed, sample S" (S recomputed from the
            restored memory and checked against the one printed before the checkpoint).
            Latency = time from spawning the process to that line, minus the same for a
            run that does nothing (`tern run fill.wasm 0`, median): process start and
            module loading cancel out.
size        the snapshot file against the touched memory itself (the guest writes the
            raw bytes to a file in a separate run) compressed with LZ4 in 64 KiB
            independent blocks (the `lz4` CLI's benchmark, the C reference library:
            tern's codec and block size) and with zlib level 1 (= `gzip -1`).

Targets (issue 4): checkpoint <= 1 ms + the time to compress the touched memory,
restore <= 1 ms + the time to decompress it (both taken from the lz4 CLI's in-memory
benchmark of the raw bytes), snapshot size <= the touched memory compressed.  Writing
the snapshot durably also costs disk time, shown separately (this script writes and
fsyncs a copy of the snapshot).

Writes the tables into docs/benchmarks.md between the markers of its section.
Python standard library only; runs the `lz4` CLI when it is installed.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUEST = ROOT / "bench" / "ckpt" / "fill.wasm"
DOC = ROOT / "docs" / "benchmarks.md"
START, END = "<!-- checkpoint:start -->", "<!-- checkpoint:end -->"
CHECKPOINTED = 75  # tern's exit status after a checkpoint
TIMEOUT = 120.0  # seconds any one process may take
MIB = 1 << 20
# Extra options of every `tern run` / `tern restore`, e.g. ["--engine", "interp"]: the
# startup baseline and the restores must run on the same engine.
ENGINE: list[str] = []


# --------------------------------------------------------------------------
# Processes


class Failed(Exception):
    pass


def finish(proc: subprocess.Popen, what: str) -> tuple[int, int]:
    """Waits (killing the process after TIMEOUT); returns (exit status, peak RSS in KiB)."""
    watchdog = threading.Timer(TIMEOUT, proc.kill)
    watchdog.start()
    try:
        _, status, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode < 0:
        raise Failed(f"{what}: killed by signal {-proc.returncode} (timeout {TIMEOUT:.0f} s?)")
    return proc.returncode, usage.ru_maxrss


def first_line(proc: subprocess.Popen, what: str) -> str:
    line = proc.stdout.readline().decode()
    if not line:
        proc.kill()
        raise Failed(f"{what}: no output; stderr: {proc.stderr.read().decode().strip()}")
    return line.strip()


def uleb(data: bytes, at: int) -> tuple[int, int]:
    """An unsigned LEB128 number at `at`: (value, offset after it)."""
    value, shift = 0, 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, at


def section(snapshot: Path, wanted: int, limit: int = 1 << 16) -> bytes:
    """The first `limit` bytes of section `wanted` of a snapshot file (the framing of
    docs/snapshot-format.md: 16-byte header, then id:u8 length:u64 payload), read
    without loading the rest of the file."""
    with open(snapshot, "rb") as f:
        if f.read(8) != b"TERNSNAP":
            raise Failed(f"{snapshot}: not a snapshot")
        f.seek(16)
        while True:
            header = f.read(9)
            if len(header) < 9 or header[0] == 0x00:
                raise Failed(f"{snapshot}: no section {wanted:#x}")
            length = struct.unpack("<Q", header[1:])[0]
            if header[0] == wanted:
                return f.read(min(length, limit))
            f.seek(length, os.SEEK_CUR)


def trigger_unix_nanos(snapshot: Path) -> int:
    """The capture time tern wrote into the trigger section."""
    payload = section(snapshot, 0x81)
    at = 0
    for _ in range(2):  # kind, detail: uleb32 length + UTF-8
        n, at = uleb(payload, at)
        at += n
    at += 1 + 8 * payload[at]  # instructions_known, then the count if known
    return struct.unpack_from("<Q", payload, at)[0]


def stored_pages(snapshot: Path) -> int:
    """How many pages the (single) memory of the snapshot stores: its non-zero pages."""
    payload = section(snapshot, 0x03, limit=16)
    memories, at = uleb(payload, 0)
    if memories != 1:
        raise Failed(f"{snapshot}: {memories} memories, expected 1")
    return uleb(payload, at)[0]


# --------------------------------------------------------------------------
# One measurement each


@dataclass
class Checkpoint:
    pause_to_durable: float  # seconds
    signal_to_durable: float
    sample: str  # the guest's "sample ..." checksum before the checkpoint
    peak_rss_kib: int


def checkpoint(tern: str, mib: int, snapshot: Path) -> Checkpoint:
    what = f"checkpoint of {mib} MiB"
    snapshot.unlink(missing_ok=True)
    stdin_read, stdin_write = os.pipe()  # kept open and empty: the guest blocks reading
    try:
        proc = subprocess.Popen(
            [tern, "run", *ENGINE, "--checkpoint-on", "signal", "--snapshot", str(snapshot),
             str(GUEST), str(mib)],
            stdin=stdin_read, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        os.close(stdin_read)
        line = first_line(proc, what)
        if not line.startswith(f"filled {mib} MiB"):
            raise Failed(f"{what}: unexpected output {line!r}")
        time.sleep(0.02)  # let it get into the read
        signalled = time.perf_counter()
        os.kill(proc.pid, signal.SIGUSR1)
        while not snapshot.exists():
            if time.perf_counter() - signalled > TIMEOUT:
                proc.kill()
                raise Failed(f"{what}: no snapshot after {TIMEOUT:.0f} s")
            time.sleep(0.0001)
        durable_wall, durable = time.time_ns(), time.perf_counter()
        status, rss = finish(proc, what)
    finally:
        os.close(stdin_write)
    if status != CHECKPOINTED:
        raise Failed(f"{what}: exit status {status}: {proc.stderr.read().decode().strip()}")
    paused = trigger_unix_nanos(snapshot)
    return Checkpoint(
        pause_to_durable=(durable_wall - paused) / 1e9,
        signal_to_durable=durable - signalled,
        sample=line.split("sample ")[1],
        peak_rss_kib=rss,
    )


def to_first_line(argv: list[str], what: str) -> tuple[float, str, int]:
    """Seconds from spawning to the program's first line; the line; peak RSS (KiB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    line = first_line(proc, what)
    elapsed = time.perf_counter() - started
    status, rss = finish(proc, what)
    if status != 0:
        raise Failed(f"{what}: exit status {status}: {proc.stderr.read().decode().strip()}")
    return elapsed, line, rss


def restore(tern: str, snapshot: Path, sample: str) -> tuple[float, int]:
    what = f"restore of {snapshot.name}"
    elapsed, line, rss = to_first_line(
        [tern, "restore", *ENGINE, str(snapshot), "--module", str(GUEST)], what)
    if line != f"resumed, sample {sample}":
        raise Failed(f"{what}: memory differs after the restore: {line!r}, expected {sample}")
    return elapsed, rss


def startup(tern: str) -> float:
    return to_first_line([tern, "run", *ENGINE, str(GUEST), "0"], "startup baseline")[0]


# --------------------------------------------------------------------------
# Compression references, from the raw bytes the guest dumps


@dataclass
class Reference:
    raw_bytes: int
    zlib1_bytes: int
    lz4_bytes: int | None = None  # the lz4 CLI's benchmark, 64 KiB independent blocks
    lz4_compress: float | None = None  # bytes per second
    lz4_decompress: float | None = None
    write_fsync: float = 0.0  # seconds to write + fsync as many bytes as the snapshot
    fresh_memory: float = 0.0  # seconds a new process takes to get the memory from the kernel


def dump_memory(tern: str, mib: int, work: Path) -> Path:
    out = work / "out"
    out.mkdir(exist_ok=True)
    proc = subprocess.Popen(
        [tern, "run", *ENGINE, "--dir", f"{out}::/out", str(GUEST), str(mib), "dump"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    status, _ = finish(proc, f"dump of {mib} MiB")
    if status != 0:
        raise Failed(f"dump of {mib} MiB: exit status {status}")
    return out / "memory.raw"


def zlib1_size(raw: Path) -> int:
    """zlib level 1 (gzip -1) as one stream, read in pieces so memory stays bounded."""
    packer, size = zlib.compressobj(1), 0
    with open(raw, "rb") as f:
        while chunk := f.read(4 * MIB):
            size += len(packer.compress(chunk))
    return size + len(packer.flush())


def lz4_benchmark(raw: Path, ref: Reference) -> None:
    """`lz4 -b1 -B65536`: level 1 (the LZ4 block format tern writes), 64 KiB blocks each
    compressed on its own, in memory: speeds without disk, and the compressed size."""
    lz4 = shutil.which("lz4")
    if not lz4:
        return
    out = subprocess.run([lz4, "-b1", "-B65536", "-i1", str(raw)], capture_output=True,
                         text=True, timeout=TIMEOUT)
    # The last of its \r-separated progress lines, e.g.
    # " 1#memory.raw :  67108864 ->  35283146 (1.902), 640.2 MB/s , 3575.1 MB/s" (MB = 10^6)
    last = (out.stdout + out.stderr).strip().split("\r")[-1]
    match = re.search(r"(\d+) +-> +(\d+) .*?([\d.]+) MB/s *, *([\d.]+) MB/s", last)
    if not match:
        print(f"note: no lz4 reference, unexpected output {last!r}", file=sys.stderr)
        return
    ref.lz4_bytes = int(match.group(2))
    ref.lz4_compress = float(match.group(3)) * 1e6
    ref.lz4_decompress = float(match.group(4)) * 1e6


def write_fsync(length: int, work: Path) -> float:
    """Time to write `length` bytes to a new file next to the snapshots and fsync it: the
    disk's share of a durable snapshot of that size (random bytes, in 4 MiB writes)."""
    chunk = os.urandom(4 * MIB)
    copy = work / "disk-check"
    with open(copy, "wb", buffering=0) as f:
        started = time.perf_counter()
        for at in range(0, length, len(chunk)):
            f.write(chunk[: min(len(chunk), length - at)])
        os.fsync(f.fileno())
        elapsed = time.perf_counter() - started
    copy.unlink()
    return elapsed


# Run in a new process, as a restore is: maps `n` bytes, advises huge pages as tern's
# memories do (a hint the kernel may ignore), then writes every byte twice.  The first
# pass pays for the kernel handing out (and zeroing) fresh pages; the second writes the
# same bytes into memory already there, as an in-memory decompression benchmark does.
FRESH_MEMORY_PROBE = """
import ctypes, mmap, sys, time
n = int(sys.argv[1])
m = mmap.mmap(-1, n)
if hasattr(mmap, "MADV_HUGEPAGE"):
    m.madvise(mmap.MADV_HUGEPAGE)
address = ctypes.addressof(ctypes.c_char.from_buffer(m))
t0 = time.perf_counter(); ctypes.memset(address, 1, n)
t1 = time.perf_counter(); ctypes.memset(address, 2, n)
t2 = time.perf_counter()
print(max(0.0, (t1 - t0) - (t2 - t1)))
"""


def fresh_memory(length: int) -> float:
    """What a new process pays for `length` bytes of memory before it can write them:
    page faults and the kernel's zeroing (slow on some virtual machines, where the
    hypervisor backs guest memory lazily too).  A restore cannot avoid it; the in-memory
    LZ4 benchmark does not include it.  Median of three processes."""
    times = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", FRESH_MEMORY_PROBE, str(length)],
                             capture_output=True, text=True, timeout=TIMEOUT, check=True)
        times.append(float(out.stdout))
    return statistics.median(times)


# --------------------------------------------------------------------------
# The benchmark


@dataclass
class Result:
    mib: int
    nonzero_pages: int = 0
    snapshot_bytes: int = 0
    checkpoints: list[Checkpoint] = field(default_factory=list)
    restores: list[float] = field(default_factory=list)
    restore_rss_kib: int = 0
    reference: Reference | None = None


def measure(tern: str, mib: int, reps: int, work: Path) -> Result:
    result = Result(mib)
    raw = dump_memory(tern, mib, work)
    ref = Reference(raw_bytes=raw.stat().st_size, zlib1_bytes=zlib1_size(raw))
    lz4_benchmark(raw, ref)
    raw.unlink()
    snapshot = work / f"fill-{mib}.tern"
    for _ in range(reps):
        result.checkpoints.append(checkpoint(tern, mib, snapshot))
    samples = {c.sample for c in result.checkpoints}
    if len(samples) != 1:
        raise Failed(f"{mib} MiB: the guest's checksum varies between runs: {samples}")
    sample = samples.pop()
    for _ in range(reps):
        elapsed, rss = restore(tern, snapshot, sample)
        result.restores.append(elapsed)
        result.restore_rss_kib = max(result.restore_rss_kib, rss)
    result.snapshot_bytes = snapshot.stat().st_size
    result.nonzero_pages = stored_pages(snapshot)
    ref.write_fsync = write_fsync(result.snapshot_bytes, work)
    ref.fresh_memory = fresh_memory(result.nonzero_pages * 65536)
    result.reference = ref
    snapshot.unlink()
    return result


# --------------------------------------------------------------------------
# Tables


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f}" if seconds >= 0.01 else f"{seconds * 1e3:.2f}"


def spread(values: list[float]) -> str:
    """Median, with the range when there are several."""
    text = ms(statistics.median(values))
    return text if len(values) == 1 else f"{text} ({ms(min(values))}–{ms(max(values))})"


def size(n: int | None) -> str:
    return "–" if n is None else f"{n / MIB:,.2f} MiB"


def markdown(header: list[str], rows: list[list[str]]) -> str:
    lines = [header, [":--"] + ["--:"] * (len(header) - 1), *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def size_table(results: list[Result]) -> str:
    rows = []
    for r in results:
        ref = r.reference
        touched = r.nonzero_pages * 65536
        lz4 = ref.lz4_bytes
        rows.append([
            f"{r.mib} MiB", f"{r.nonzero_pages:,} ({size(touched)})", size(r.snapshot_bytes),
            f"{r.snapshot_bytes / touched:.3f}", size(lz4), size(ref.zlib1_bytes),
            "–" if lz4 is None else f"{r.snapshot_bytes / lz4:.3f}",
            f"{r.snapshot_bytes / ref.zlib1_bytes:.3f}",
        ])
    return markdown(
        ["guest fills", "touched: non-zero pages", "snapshot", "snapshot / touched",
         "LZ4, 64 KiB blocks", "gzip -1", "snapshot / LZ4", "snapshot / gzip -1"], rows)


def latency_table(results: list[Result], baseline: float) -> str:
    rows = []
    for r in results:
        ref = r.reference
        ckpt = statistics.median(c.pause_to_durable for c in r.checkpoints)
        restores = [t - baseline for t in r.restores]
        goals = ["–"] * 4
        if ref.lz4_compress:
            # Targets of issue 4, with the LZ4 C library's speeds; the checkpoint's also
            # with this disk's time for the same bytes, which durability cannot skip, the
            # restore's with this machine's time to hand a new process that much memory.
            ckpt_goal = 1e-3 + ref.raw_bytes / ref.lz4_compress
            restore_goal = 1e-3 + ref.raw_bytes / ref.lz4_decompress
            goals = [
                f"{ms(ckpt_goal)} / {ms(ckpt_goal + ref.write_fsync)}",
                f"{ckpt / (ckpt_goal + ref.write_fsync):.1f}×",
                f"{ms(restore_goal)} / {ms(restore_goal + ref.fresh_memory)}",
                f"{statistics.median(restores) / (restore_goal + ref.fresh_memory):.1f}×",
            ]
        rss = max(c.peak_rss_kib for c in r.checkpoints)
        rows.append([
            f"{r.mib} MiB",
            spread([c.pause_to_durable for c in r.checkpoints]),
            spread([c.signal_to_durable for c in r.checkpoints]),
            ms(ref.write_fsync), goals[0], goals[1],
            spread(restores), ms(ref.fresh_memory), goals[2], goals[3],
            f"{rss / 1024:,.0f} / {r.restore_rss_kib / 1024:,.0f}",
        ])
    return markdown(
        ["guest fills", "checkpoint: pause → durable", "signal → durable",
         "disk: write + fsync", "target: 1 + compress / + disk", "checkpoint / target",
         "restore", "fresh memory", "target: 1 + decompress / + fresh memory",
         "restore / target",
         "peak RSS (MiB): checkpoint / restore"], rows)


def shown(path: str) -> str:
    """`path` relative to the repository when it is inside it."""
    try:
        return str(Path(path).relative_to(ROOT))
    except ValueError:
        return path


def environment(tern: str, command: str, reps: tuple[int, int], baseline: float,
                load: float) -> list[str]:
    def first(argv: list[str]) -> str:
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                                 cwd=ROOT).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return "unknown"
        return out.splitlines()[0] if out else "unknown"

    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    lz4 = "not installed"
    if shutil.which("lz4"):
        version = re.search(r"v[\d.]+", first(["lz4", "--version"]))
        lz4 = f"lz4 CLI {version.group(0) if version else '(unknown version)'}"
    return [
        f"- Command: `{command}` ({reps[0]} repetitions per size below 1 GiB, {reps[1]} "
        "from 1 GiB; cells are medians with the range in parentheses)",
        f"- Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {cpu}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}; load average at the start "
        f"{load:.2f} (a shared machine: other work adds noise)",
        f"- tern: {first([tern, '--version'])}, `{shown(tern)}`; repository at commit "
        f"{first(['git', 'rev-parse', '--short', 'HEAD'])}",
        f"- Startup baseline (`tern run fill.wasm 0` to its first line): {ms(baseline)} ms",
        f"- LZ4 reference: {lz4}, `lz4 -b1 -B65536 -i1` on the raw bytes",
    ]


METHOD = """\
`python3 bench/checkpoint.py` (by default 1 MiB, 64 MiB and 1 GiB) and `python3
bench/run.py` (the sizes of the tables) measure, for a guest that touches that much
memory (`bench/ckpt/fill.c`: each 64 KiB page a quarter pseudo-random bytes, three
quarters text from a small vocabulary; it prints a checksum, then blocks reading an
empty stdin pipe):

- **checkpoint**: the run is checkpointed with SIGUSR1 while it waits. *pause → durable*
  is the moment the snapshot exists under its final name (polled every ~0.1 ms; tern
  writes a temp file, fsyncs it, renames it, then fsyncs the directory, ~1 ms more not
  counted here) minus the capture time tern records in the snapshot (`unix_nanos` of the
  trigger section, taken when the program paused): capture, encoding, LZ4 compression,
  write and fsync — tern is not changed for it.
  *signal → durable* adds delivering the signal and returning from the interrupted read.
  Process exit (freeing the memory) is excluded.
- **restore**: time from spawning `tern restore` (stdin `/dev/null`: the re-issued read
  returns end of file at once) to the program's first line, which reports a checksum of
  the restored memory (checked), minus the same for `tern run fill.wasm 0` (process start,
  module loading): reading, checking, decompressing and placing the pages, rebuilding WASI
  state, validating frames.
- **size**: the snapshot file against the touched memory — every non-zero page of the
  guest's linear memory, which a separate run of the guest writes to a file — compressed
  with the LZ4 C library in 64 KiB independent blocks (tern's codec and block size) and
  with zlib level 1 (`gzip -1`) as one stream.

Targets (issue 4): checkpoint ≤ 1 ms + compressing the touched memory, restore ≤ 1 ms +
decompressing it, with the compression times of the LZ4 C library's in-memory benchmark
(`lz4 -b1 -B65536`); the checkpoint target is shown without and with the time this disk
takes to write and fsync the same number of bytes, which a durable snapshot cannot avoid,
and the restore target without and with the time this machine takes to give a new
process that much memory (*fresh memory*: page faults and the kernel zeroing each page,
measured in a separate process as the first write of every byte of a fresh mapping,
advised to use huge pages as tern's memories are, minus a second write), which a
restored program's memory cannot avoid and the in-memory LZ4 benchmark does not pay.
Snapshot size ≤ the touched memory compressed.
"""


def render(results: list[Result], env: list[str], baseline: float) -> str:
    return "\n".join([
        START,
        "## Checkpoint and restore",
        "",
        "_Generated by `bench/checkpoint.py`; do not edit by hand, re-run the command "
        "instead._",
        "",
        METHOD,
        *env,
        "",
        "Latency in milliseconds (median, range in parentheses); `/ target` above 1× "
        "misses the target (the checkpoint's with the disk's time included, the restore's "
        "with the fresh memory's):",
        "",
        latency_table(results, baseline),
        "",
        "Size:",
        "",
        size_table(results),
        END,
    ])


def update_doc(section: str) -> None:
    text = DOC.read_text()
    start, end = text.find(START), text.find(END)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(END):]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    DOC.write_text(text)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tern", help="tern binary (default: cargo build --release, "
                        "then target/release/tern)")
    parser.add_argument("--sizes", default="1,64,1024", help="touched MiB, comma-separated")
    parser.add_argument("--reps", type=int, default=5, help="repetitions per size below "
                        "1 GiB (default 5)")
    parser.add_argument("--big-reps", type=int, default=2, help="repetitions per size of "
                        "1 GiB or more (default 2: keeps the 1 GiB case near a minute)")
    parser.add_argument("--engine", help="`--engine` option for every tern run and restore "
                        "(fast or interp; default: none, tern's default engine)")
    parser.add_argument("--no-doc", action="store_true", help="do not update "
                        "docs/benchmarks.md")
    args = parser.parse_args()
    tern = args.tern
    if not tern:
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        tern = str(ROOT / "target" / "release" / "tern")
    tern = os.path.abspath(tern)
    if args.engine:
        ENGINE[:] = ["--engine", args.engine]
    sizes = [int(s) for s in args.sizes.split(",")]
    command = " ".join(["python3 bench/checkpoint.py", *sys.argv[1:]])
    load = os.getloadavg()[0]
    try:
        with tempfile.TemporaryDirectory(prefix="tern-ckpt-bench-") as tmp:
            work = Path(tmp)
            baseline = statistics.median(startup(tern) for _ in range(10))
            results = []
            for mib in sizes:
                started = time.perf_counter()
                reps = args.reps if mib < 1024 else args.big_reps
                results.append(measure(tern, mib, reps, work))
                print(f"{mib} MiB measured in {time.perf_counter() - started:.1f} s",
                      file=sys.stderr)
    except Failed as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    env = environment(tern, command, (args.reps, args.big_reps), baseline, load)
    section = render(results, env, baseline)
    print(section)
    if not args.no_doc:
        update_doc(section)
        print(f"\nwritten to {DOC.relative_to(ROOT)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
