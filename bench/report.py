"""Turning measurements into tables, and writing them into docs/benchmarks.md."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from engines import Engine

BASELINE = "tern"  # ratios are tern time / peer time: > 1 means tern is slower
SECTION_START = "<!-- interp-vs-peers:start -->"
SECTION_END = "<!-- interp-vs-peers:end -->"

DOC_HEADER = """# Benchmarks

How fast tern's interpreter runs compute-bound WebAssembly compared with other
engines.  Reproduce with `python3 bench/run.py`.

"""


@dataclass
class Row:
    """What one workload measured on every engine."""

    workload: str
    n: int
    medians: dict[str, float]  # engine name -> median seconds (engines that ran)
    status: dict[str, str]  # engine name -> "ok" | "MISMATCH" | "error" | "missing"
    checksum: int | None  # the agreed value (the reference engine's), if any


# --------------------------------------------------------------------------
# Numbers


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def ratio(row: Row, peer: str) -> float | None:
    base, other = row.medians.get(BASELINE), row.medians.get(peer)
    return base / other if base and other else None


def _seconds(t: float) -> str:
    return f"{t:.4f}" if t < 0.01 else f"{t:.3f}"


def _ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}"


# --------------------------------------------------------------------------
# Tables (Markdown, so the terminal output and the doc are the same text)


def _markdown(header: list[str], rows: list[list[str]], right_from: int) -> str:
    align = [":--"] * right_from + ["--:"] * (len(header) - right_from)
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def timing_table(rows: list[Row], engines: list[Engine]) -> str:
    """Median seconds per engine, then tern/peer ratios with their geomean."""
    names = [e.name for e in engines]
    peers = [n for n in names if n != BASELINE] if BASELINE in names else []
    header = (
        ["workload", "n"]
        + [f"{n} (s)" for n in names]
        + [f"{BASELINE}/{p}" for p in peers]
        + ["checksum"]
    )
    body = []
    for row in rows:
        cells = [row.workload, f"{row.n:,}"] + [_timing_cell(row, name) for name in names]
        cells += [_ratio(ratio(row, p)) for p in peers]
        cells.append("–" if row.checksum is None else str(row.checksum))
        body.append(cells)
    if peers:
        means = [_ratio(geomean([r for r in (ratio(row, p) for row in rows) if r])) for p in peers]
        body.append(["**geomean**", ""] + [""] * len(names) + means + [""])
    return _markdown(header, body, right_from=1)


def _timing_cell(row: Row, name: str) -> str:
    if name not in row.medians:  # never ran: missing, or failed every time
        return row.status[name]
    text = _seconds(row.medians[name])
    return text if row.status[name] == "ok" else f"{text} {row.status[name]}"


def checksum_table(rows: list[Row], engines: list[Engine]) -> str:
    """--quick output: did every engine compute the same checksum?"""
    names = [e.name for e in engines]
    header = ["workload", "n", "checksum"] + names
    body = [
        [row.workload, f"{row.n:,}", "–" if row.checksum is None else str(row.checksum)]
        + [row.status[name] for name in names]
        for row in rows
    ]
    return _markdown(header, body, right_from=1)


# --------------------------------------------------------------------------
# Environment description


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.strip().splitlines()[0] if out.strip() else "unknown"


def environment_lines(engines: list[Engine], command: str, reps: int) -> list[str]:
    """The facts a reader needs to judge or reproduce the numbers."""
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"- Command: `{command}` ({reps} repetition{'s' if reps != 1 else ''} per "
        "engine and workload, engine order rotated each repetition; each cell is the "
        "median wall time of a whole process, startup included)",
        f"- Date: {date}",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}",
    ]
    for engine in engines:
        if engine.available:
            notes = "".join(f"; {note}" for note in engine.notes)
            lines.append(
                f"- {engine.name}: {engine.version}, run as `{engine.command_line()}`{notes}"
            )
        else:
            lines.append(f"- {engine.name}: **missing**: {engine.missing}")
    lines.append(
        f"- Toolchain: {_first_line(['rustc', '--version'])}, Python {platform.python_version()}"
    )
    return lines


# --------------------------------------------------------------------------
# docs/benchmarks.md


def render_section(table: str, env: list[str]) -> str:
    return "\n".join(
        [
            SECTION_START,
            "## tern interpreter vs. peers",
            "",
            "_Generated by `bench/run.py`; do not edit by hand, re-run the command instead._",
            "",
            *env,
            "",
            "Seconds are medians (lower is better); `tern/X` is tern's time divided by X's "
            "(above 1 means tern is slower).  A cell reading `missing` means that engine "
            "was not available for this run.",
            "",
            table,
            SECTION_END,
        ]
    )


def update_doc(path: Path, section: str) -> None:
    """Replaces the marked section, creating the file or the section if absent."""
    text = path.read_text() if path.exists() else DOC_HEADER
    start, end = text.find(SECTION_START), text.find(SECTION_END)
    if start != -1 and end > start:
        text = text[:start] + section + text[end + len(SECTION_END) :]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
