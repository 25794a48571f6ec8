"""Turning measurements into tables, plots and the generated sections of docs/benchmarks.md."""

from __future__ import annotations

import math
import os
import platform
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import svg
from engines import REPO_ROOT, Engine

SECTION_START = "<!-- results:start -->"
SECTION_END = "<!-- results:end -->"
# The section of the single-engine suite this one replaced; removed when found.
OLD_START, OLD_END = "<!-- interp-vs-peers:start -->", "<!-- interp-vs-peers:end -->"
IMG_DIR = REPO_ROOT / "docs" / "img"
NATIVE, WASMTIME = "native", "wasmtime"

DOC_HEADER = """# Benchmarks

tern against peer runtimes and native code.  Reproduce with `python3 bench/run.py`.

"""


@dataclass
class Row:
    """What one program measured on every engine."""

    workload: str
    lang: str
    n: int
    medians: dict[str, float]  # engine name -> median seconds (engines that ran)
    status: dict[str, str]  # engine name -> "ok" | "MISMATCH" | "error" | "missing"
    checksum: str | None  # the reference value (native's), if any


# --------------------------------------------------------------------------
# Numbers


def geomean(values: list[float]) -> float | None:
    return math.exp(sum(math.log(v) for v in values) / len(values)) if values else None


def ratio(row: Row, engine: str, base: str) -> float | None:
    """engine's time / base's time (above 1: slower than base); None unless both ran ok."""
    if row.status.get(engine) != "ok" or row.status.get(base) != "ok":
        return None
    a, b = row.medians.get(engine), row.medians.get(base)
    return a / b if a and b else None


def geomeans(rows: list[Row], engines: list[str], base: str) -> dict[str, float | None]:
    return {
        e: geomean([r for r in (ratio(row, e, base) for row in rows) if r]) for e in engines
    }


def _seconds(t: float) -> str:
    return f"{t:.4f}" if t < 0.01 else f"{t:.3f}"


def _ratio(r: float | None) -> str:
    return "–" if r is None else f"{r:.2f}"


# --------------------------------------------------------------------------
# Tables (Markdown, so the terminal output and the doc are the same text)


def markdown(
    header: list[str], rows: list[list[str]], right_from: int, left_from: int | None = None
) -> str:
    """Columns before `right_from` and from `left_from` on are left-aligned."""
    left_from = len(header) if left_from is None else left_from
    align = [":--" if i < right_from or i >= left_from else "--:" for i in range(len(header))]
    lines = [header, align, *rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def timing_table(rows: list[Row], engines: list[Engine]) -> str:
    """Median seconds per engine."""
    names = [e.name for e in engines]
    header = ["program", "lang", "n"] + [f"{n} (s)" for n in names]
    body = []
    for row in rows:
        cells = [f"`{row.workload}`", row.lang, f"{row.n:,}"]
        body.append(cells + [_timing_cell(row, name) for name in names])
    return markdown(header, body, right_from=2)


def ratio_table(rows: list[Row], engines: list[Engine], base: str) -> str:
    """Each engine's time divided by `base`'s, with geomeans."""
    names = [e.name for e in engines if e.name != base]
    header = ["program"] + [f"{n} / {base}" for n in names]
    body = [[f"`{row.workload}`"] + [_ratio(ratio(row, n, base)) for n in names] for row in rows]
    means = geomeans(rows, names, base)
    body.append(["**geomean**"] + [f"**{_ratio(means[n])}**" for n in names])
    return markdown(header, body, right_from=1)


def _timing_cell(row: Row, name: str) -> str:
    if name not in row.medians:  # never ran: missing, or failed every time
        return row.status[name]
    text = _seconds(row.medians[name])
    return text if row.status[name] == "ok" else f"{text} {row.status[name]}"


def checksum_table(rows: list[Row], engines: list[Engine]) -> str:
    """--quick output: did every engine print native's checksum?"""
    names = [e.name for e in engines]
    header = ["program", "lang", "n", "checksum"] + names
    body = [
        [row.workload, row.lang, f"{row.n:,}", row.checksum or "–"]
        + [row.status[name] for name in names]
        for row in rows
    ]
    return markdown(header, body, right_from=2)


# --------------------------------------------------------------------------
# Plots


def speed_plot(rows: list[Row], engines: list[Engine], path: Path) -> bool:
    """Time relative to native per program and engine, log scale."""
    names = [e.name for e in engines if e.name != NATIVE and e.available]
    values = {}
    for row in rows:
        for n in names:
            r = ratio(row, n, NATIVE)
            if r:
                values[row.workload, n] = r
    groups = [row.workload for row in rows] + ["geomean"]
    for n, mean in geomeans(rows, names, NATIVE).items():
        if mean:
            values["geomean", n] = mean
    if not values:
        return False
    svg.bar_chart(
        path,
        "Run time relative to native (lower is better)",
        groups,
        names,
        values,
        "time / native time (log scale; 1 = native speed)",
        log=True,
        reference=1.0,
    )
    return True


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


def first_line(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=REPO_ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = out.stdout.strip()
    return text.splitlines()[0] if text else "unknown"


def environment_lines(engines: list[Engine], command: str, reps: int, load: float) -> list[str]:
    """The facts a reader needs to judge or reproduce the numbers."""
    date = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    commit = first_line(["git", "rev-parse", "--short", "HEAD"])
    lines = [
        f"- Command: `{command}` ({reps} repetition{'s' if reps != 1 else ''} per "
        "engine and program, engine order rotated each repetition; each cell is the "
        "median wall time of a whole process, startup and compilation included)",
        f"- Date: {date}; repository at commit {commit}",
        f"- Machine: {cpu_model()}, {os.cpu_count()} cores, "
        f"{platform.system()} {platform.release()}; load average {load:.2f} at the start "
        "(a shared machine: other work adds noise)",
    ]
    for engine in engines:
        if engine.available:
            notes = "".join(f"; {note}" for note in engine.notes)
            lines.append(
                f"- {engine.name}: {engine.version}, run as `{engine.command_line()}`{notes}"
            )
        else:
            lines.append(f"- {engine.name}: **missing** ({engine.missing})")
    lines.append(
        f"- Toolchain: {first_line(['rustc', '--version'])}, "
        f"{first_line(['clang', '--version'])}, Python {platform.python_version()}"
    )
    return lines


# --------------------------------------------------------------------------
# docs/benchmarks.md


def replace_section(text: str, start: str, end: str, section: str) -> str:
    """`text` with the part from `start` to `end` replaced by `section` (which
    carries its own markers), or `section` appended when the markers are absent.
    Everything outside the markers is kept as it is."""
    a, b = text.find(start), text.find(end)
    if a != -1 and b > a:
        return text[:a] + section + text[b + len(end) :]
    return text.rstrip("\n") + "\n\n" + section + "\n"


def update_doc(path: Path, sections: list[tuple[str, str, str]]) -> None:
    """Writes each (start marker, end marker, section) into the file; the main
    results take the place of the retired interp-vs-peers section."""
    text = path.read_text() if path.exists() else DOC_HEADER
    for start, end, section in sections:
        if start == SECTION_START and start not in text:
            a, b = text.find(OLD_START), text.find(OLD_END)
            if a != -1 and b > a:
                text = text[:a] + section + text[b + len(OLD_END) :]
                continue
        text = replace_section(text, start, end, section)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
