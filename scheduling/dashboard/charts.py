"""Server-rendered SVG charts: a line chart, grouped bars, horizontal bars against a limit, progress bars.

No script and nothing fetched from elsewhere: each chart is an inline <svg role="img"> with a <title> and a
description, its marks carry `data-value` (tests and curious people read them), colours come from the
stylesheet (classes `lw-s0`, `lw-s1`, ...), and every chart is followed in the page by the same numbers as a
table, so nothing is said by colour or shape alone. Missing values (a week without data) leave a gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

__all__ = ["line_chart", "bar_chart", "limit_bars", "progress_bar", "nice_max"]

W, H = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 14, 34


TICKS = 4


def nice_max(value: float) -> float:
    """A round upper bound for an axis of TICKS steps, at least `value`: each step is 1, 2, 2.5 or 5 times a
    power of ten, or 1.5, 3, 4, 6 or 8 (0-6-12-18-24, not 0-6.2-12.5)."""
    if value <= 0:
        return float(TICKS)
    raw = value / TICKS
    power = 10 ** math.floor(math.log10(raw))
    for step in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        if raw <= step * power + 1e-9:
            return step * power * TICKS
    return 10 * power * TICKS


def _fmt(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


def _axis(top: float, unit: str, ticks: int = TICKS) -> list[str]:
    parts = []
    plot_h = H - TOP - BOTTOM
    for i in range(ticks + 1):
        value = top * i / ticks
        y = TOP + plot_h - plot_h * i / ticks
        parts.append(f'<line class="lw-grid" x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="lw-tick" x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{_fmt(value)}{escape(unit)}</text>')
    return parts


def _x_labels(labels: Sequence[str], xs: Sequence[float]) -> list[str]:
    every = max(1, math.ceil(len(labels) / 10))  # at most about ten labels, evenly spaced
    return [f'<text class="lw-tick" x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">{escape(label)}</text>'
            for i, (label, x) in enumerate(zip(labels, xs, strict=True)) if i % every == 0]


def _svg(kind: str, title: str, desc: str, body: list[str]) -> SafeString:
    return mark_safe(
        f'<svg class="lw-chart lw-chart-{kind}" viewBox="0 0 {W} {H}" role="img" preserveAspectRatio="xMidYMid meet"'
        f' aria-label="{escape(title)}"><title>{escape(title)}</title><desc>{escape(desc)}</desc>'
        + "".join(body) + "</svg>")


def line_chart(*, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
               unit: str = "") -> SafeString:
    """One line per series over `labels` (e.g. weeks); None values break the line."""
    values = [v for _, vs in series for v in vs if v is not None]
    top = nice_max(max(values, default=0.0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(labels), 1)
    xs = [LEFT + plot_w * (i + 0.5) / n for i in range(len(labels))]
    body = _axis(top, unit)
    for k, (name, vs) in enumerate(series):
        runs: list[list[str]] = [[]]
        for x, v in zip(xs, vs, strict=True):
            if v is None:
                runs.append([])
                continue
            y = TOP + plot_h - plot_h * v / top
            runs[-1].append(f"{x:.1f},{y:.1f}")
            body.append(f'<circle class="lw-s{k}" cx="{x:.1f}" cy="{y:.1f}" r="3" data-series="{escape(name)}" '
                        f'data-value="{v:.2f}"><title>{escape(name)}: {_fmt(v)}{escape(unit)}</title></circle>')
        body += [f'<polyline class="lw-line lw-s{k}" points="{" ".join(run)}"/>' for run in runs if len(run) > 1]
    body += _x_labels(labels, xs)
    desc = "; ".join(f"{name}: " + ", ".join("no data" if v is None else f"{_fmt(v)}{unit}" for v in vs)
                     for name, vs in series)
    return _svg("line", title, desc, body)


def bar_chart(*, title: str, labels: Sequence[str], series: Sequence[tuple[str, Sequence[float | None]]],
              unit: str = "", top: float | None = None) -> SafeString:
    """Grouped vertical bars: one group per label, one bar per series."""
    values = [v for _, vs in series for v in vs if v is not None]
    top = top or nice_max(max(values, default=0.0))
    plot_w, plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
    n = max(len(labels), 1)
    group = plot_w / n
    bar = max(group * 0.8 / max(len(series), 1), 1.0)
    xs = [LEFT + group * (i + 0.5) for i in range(len(labels))]
    body = _axis(top, unit)
    for k, (name, vs) in enumerate(series):
        for i, v in enumerate(vs):
            if v is None:
                continue
            h = plot_h * min(v, top) / top
            x = LEFT + group * i + group * 0.1 + bar * k
            body.append(f'<rect class="lw-s{k}" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                        f'height="{h:.1f}" data-series="{escape(name)}" data-value="{v:.2f}">'
                        f'<title>{escape(labels[i])}, {escape(name)}: {_fmt(v)}{escape(unit)}</title></rect>')
    body += _x_labels(labels, xs)
    desc = "; ".join(f"{name}: " + ", ".join("no data" if v is None else f"{_fmt(v)}{unit}" for v in vs)
                     for name, vs in series)
    return _svg("bars", title, desc, body)


def limit_bars(*, title: str, rows: Sequence[tuple[str, int, int | None]]) -> SafeString:
    """Horizontal bars, one per row (label, value, limit or None), with the limit marked; over the limit is red."""
    row_h, label_w = 22, 190
    height = TOP + row_h * max(len(rows), 1) + 20
    top = nice_max(max([max(v, lim or 0) for _, v, lim in rows], default=1))
    plot_w = W - label_w - RIGHT - 40
    body = []
    for i, (label, value, limit) in enumerate(rows):
        y = TOP + row_h * i
        w = plot_w * value / top
        over = limit is not None and value >= limit
        body.append(f'<text class="lw-tick" x="{label_w - 6}" y="{y + 15}" text-anchor="end">{escape(label)}</text>')
        body.append(f'<rect class="{"lw-over" if over else "lw-s0"}" x="{label_w}" y="{y + 4}" width="{w:.1f}" '
                    f'height="{row_h - 8}" data-value="{value}" data-limit="{"" if limit is None else limit}">'
                    f'<title>{escape(label)}: {value} of {"no limit" if limit is None else limit}</title></rect>')
        if limit is not None:
            x = label_w + plot_w * limit / top
            body.append(f'<line class="lw-limit" x1="{x:.1f}" x2="{x:.1f}" y1="{y + 1}" y2="{y + row_h - 1}"/>')
        body.append(f'<text class="lw-tick" x="{label_w + w + 6:.1f}" y="{y + 15}">{value}'
                    f'{"" if limit is None else f" / {limit}"}</text>')
    desc = "; ".join(f"{label}: {value} of {'no limit' if limit is None else limit}" for label, value, limit in rows)
    return mark_safe(
        f'<svg class="lw-chart lw-chart-limits" viewBox="0 0 {W} {height}" role="img" aria-label="{escape(title)}">'
        f'<title>{escape(title)}</title><desc>{escape(desc)}</desc>' + "".join(body) + "</svg>")


def progress_bar(*, done: int, required: int, label: str) -> SafeString:
    """A small bar: `done` of `required` (full when required is 0)."""
    share = 1.0 if required <= 0 else min(done / required, 1.0)
    return mark_safe(
        f'<svg class="lw-progress" viewBox="0 0 100 10" role="img" aria-label="{escape(label)}: {done} of {required}">'
        f'<rect class="lw-progress-bg" x="0" y="0" width="100" height="10" rx="3"/>'
        f'<rect class="lw-s0" x="0" y="0" width="{100 * share:.1f}" height="10" rx="3" data-value="{done}" '
        f'data-limit="{required}"/></svg>')
