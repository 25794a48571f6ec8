"""A small SVG chart writer (Python standard library only): grouped horizontal
bars and lines, with linear or log-10 axes.  Enough for docs/img/*.svg."""

from __future__ import annotations

import math
from pathlib import Path
from xml.sax.saxutils import escape

# Colour-blind-safe (Okabe-Ito) palette, one colour per series.
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000"]
FONT = 'font-family="sans-serif" font-size="12"'


def _nice_ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        first, last = math.floor(math.log10(lo)), math.ceil(math.log10(hi))
        decades = [10.0**e for e in range(first, last + 1)]
        if len(decades) <= 3:  # few decades: add 2 and 5 in between
            decades = sorted(d * m for d in decades for m in (1, 2, 5) if lo <= d * m <= hi * 1.01)
        return decades
    span = hi - lo or 1.0
    step = 10 ** math.floor(math.log10(span / 5))
    for m in (1, 2, 5, 10):
        if span / (step * m) <= 6:
            step *= m
            break
    start = math.floor(lo / step) * step
    return [start + i * step for i in range(int((hi - start) / step) + 2)]


def _fmt(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e6 or abs(v) < 0.01:
        return f"{v:.0e}".replace("e+0", "e").replace("e-0", "e-")
    return f"{v:g}"


class _Axis:
    """Maps data values to pixels along one axis."""

    def __init__(self, lo: float, hi: float, p0: float, p1: float, log: bool):
        self.log = log
        self.ticks = _nice_ticks(lo, hi, log)
        self.lo = min(self.ticks[0], lo)
        self.hi = max(self.ticks[-1], hi)
        self.p0, self.p1 = p0, p1

    def __call__(self, v: float) -> float:
        f = math.log10 if self.log else (lambda x: x)
        t = (f(v) - f(self.lo)) / ((f(self.hi) - f(self.lo)) or 1.0)
        return self.p0 + t * (self.p1 - self.p0)


def _legend(names: list[str], x: float, y: float) -> list[str]:
    out = []
    for i, name in enumerate(names):
        colour = PALETTE[i % len(PALETTE)]
        yy = y + 18 * i
        out.append(f'<rect x="{x:.1f}" y="{yy - 10:.1f}" width="12" height="12" fill="{colour}"/>')
        out.append(f'<text x="{x + 18:.1f}" y="{yy:.1f}" {FONT}>{escape(name)}</text>')
    return out


def _document(width: float, height: float, body: list[str], title: str) -> str:
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}">',
            f"<title>{escape(title)}</title>",
            f'<rect width="100%" height="100%" fill="white"/>',
            f'<text x="{width / 2:.1f}" y="22" text-anchor="middle" font-family="sans-serif" '
            f'font-size="15" font-weight="bold">{escape(title)}</text>',
            *body,
            "</svg>",
            "",
        ]
    )


def bar_chart(
    path: Path,
    title: str,
    groups: list[str],
    series: list[str],
    values: dict[tuple[str, str], float],
    axis_label: str,
    log: bool = True,
    reference: float | None = None,
) -> None:
    """Horizontal grouped bars: one group per entry of `groups`, one bar per
    entry of `series` (values[(group, series)], absent ones left out), the
    value written at the end of each bar; `reference` draws a dashed line."""
    data = [v for v in values.values() if v and v > 0]
    if not data:
        return
    bar_h, gap = 11, 10
    left, right, top = 110, 190, 40
    group_h = bar_h * len(series) + gap
    plot_h = group_h * len(groups)
    width, height = 900, top + plot_h + 50
    lo, hi = min(data), max(data)
    if reference is not None:
        lo, hi = min(lo, reference), max(hi, reference)
    if not log:
        lo = 0.0
    x = _Axis(lo if log else lo, hi * 1.5 if log else hi * 1.1, left, width - right, log)
    body = []
    for t in x.ticks:
        px = x(t)
        body.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{top + plot_h}" '
                    'stroke="#ddd"/>')  # fmt: skip
        body.append(f'<text x="{px:.1f}" y="{top + plot_h + 15}" text-anchor="middle" '
                    f'{FONT}>{_fmt(t)}</text>')  # fmt: skip
    body.append(f'<text x="{(left + width - right) / 2:.1f}" y="{top + plot_h + 35}" '
                f'text-anchor="middle" {FONT}>{escape(axis_label)}</text>')  # fmt: skip
    if reference is not None:
        px = x(reference)
        body.append(f'<line x1="{px:.1f}" y1="{top - 4}" x2="{px:.1f}" y2="{top + plot_h}" '
                    'stroke="#444" stroke-dasharray="4,3"/>')  # fmt: skip
    for gi, group in enumerate(groups):
        gy = top + gi * group_h + gap / 2
        body.append(f'<text x="{left - 8}" y="{gy + group_h / 2 - 2:.1f}" text-anchor="end" '
                    f'{FONT}>{escape(group)}</text>')  # fmt: skip
        for si, name in enumerate(series):
            v = values.get((group, name))
            if not v or v <= 0:
                continue
            y = gy + si * bar_h
            x0 = x(x.lo)
            colour = PALETTE[si % len(PALETTE)]
            body.append(f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(x(v) - x0, 1):.1f}" '
                        f'height="{bar_h - 1}" fill="{colour}"><title>{escape(group)}, '
                        f'{escape(name)}: {v:.3g}</title></rect>')  # fmt: skip
            body.append(f'<text x="{x(v) + 3:.1f}" y="{y + bar_h - 2:.1f}" '
                        f'font-family="sans-serif" font-size="9">{v:.3g}</text>')  # fmt: skip
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" stroke="#000"/>')
    body += _legend(series, width - right + 40, top + 10)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_document(width, height, body, title))


def line_chart(
    path: Path,
    title: str,
    series: dict[str, list[tuple[float, float]]],
    x_label: str,
    y_label: str,
    log_x: bool = True,
    log_y: bool = True,
) -> None:
    """One polyline with point markers per series; points are (x, y)."""
    points = [p for pts in series.values() for p in pts if p[0] > 0 and p[1] > 0]
    if not points:
        return
    width, height = 840, 420
    left, right, top, bottom = 70, 280, 40, 60
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    x = _Axis(min(xs), max(xs), left, width - right, log_x)
    y_lo = min(ys) / 1.3 if log_y else 0.0
    y = _Axis(y_lo, max(ys) * 1.3, height - bottom, top, log_y)
    body = []
    for t in x.ticks:
        px = x(t)
        body.append(f'<line x1="{px:.1f}" y1="{top}" x2="{px:.1f}" y2="{height - bottom}" '
                    'stroke="#ddd"/>')  # fmt: skip
        body.append(f'<text x="{px:.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                    f'{FONT}>{_fmt(t)}</text>')  # fmt: skip
    for t in y.ticks:
        py = y(t)
        body.append(f'<line x1="{left}" y1="{py:.1f}" x2="{width - right}" y2="{py:.1f}" '
                    'stroke="#ddd"/>')  # fmt: skip
        body.append(f'<text x="{left - 6}" y="{py + 4:.1f}" text-anchor="end" '
                    f'{FONT}>{_fmt(t)}</text>')  # fmt: skip
    body.append(f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" '
                f'y2="{height - bottom}" stroke="#000"/>')  # fmt: skip
    body.append(f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#000"/>')
    body.append(f'<text x="{(left + width - right) / 2:.1f}" y="{height - 20}" '
                f'text-anchor="middle" {FONT}>{escape(x_label)}</text>')  # fmt: skip
    cy = (top + height - bottom) / 2
    body.append(f'<text x="16" y="{cy:.1f}" text-anchor="middle" transform="rotate(-90 16 '
                f'{cy:.1f})" {FONT}>{escape(y_label)}</text>')  # fmt: skip
    for i, (name, pts) in enumerate(series.items()):
        pts = sorted(p for p in pts if p[0] > 0 and p[1] > 0)
        if not pts:
            continue
        colour = PALETTE[i % len(PALETTE)]
        coords = " ".join(f"{x(px):.1f},{y(py):.1f}" for px, py in pts)
        body.append(f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                    'stroke-width="2"/>')  # fmt: skip
        for px, py in pts:
            body.append(f'<circle cx="{x(px):.1f}" cy="{y(py):.1f}" r="3.5" fill="{colour}">'
                        f'<title>{escape(name)}: {_fmt(px)} → {py:.3g}</title></circle>')  # fmt: skip
    body += _legend(list(series), width - right + 20, top + 10)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_document(width, height, body, title))
