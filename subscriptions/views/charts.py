"""Small server-side SVG charts (no JavaScript, so they work under a script-free CSP)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from markupsafe import Markup, escape


def _nice_max(value: int) -> int:
    # Round the axis top up to 1, 2 or 5 × 10^n so the label reads well.
    if value <= 0:
        return 1
    magnitude = 10 ** (len(str(value)) - 1)
    for step in (1, 2, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def _tick(x: float, y: float, text: str) -> str:
    """A right-aligned axis label ending at (x, y)."""
    return f'<text class="tick" x="{x:.1f}" y="{y:.1f}" text-anchor="end">{escape(text)}</text>'


def line_chart(
    points: Sequence[tuple[datetime | str, int]], *, title: str, description: str = "",
    width: int = 640, height: int = 180,
) -> Markup:
    """A line chart of a count over time, oldest first (a scene's matches per run, a
    source's datasets per harvest); ``points`` are (when, count) pairs, when already
    formatted or a datetime. ``title`` and ``description`` are what a screen reader
    says (``<title>``, ``<desc>``). Empty input gives an empty string."""
    if not points:
        return Markup("")
    left, right, top, bottom = 48, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max(count for _, count in points))
    step = plot_w / (len(points) - 1) if len(points) > 1 else 0

    def x(i: int) -> float:
        return left + (i * step if len(points) > 1 else plot_w / 2)

    def y(count: int) -> float:
        return top + plot_h - (count / top_value) * plot_h

    def when(value: datetime | str) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)

    coords = " ".join(f"{x(i):.1f},{y(c):.1f}" for i, (_, c) in enumerate(points))
    bottom_y, middle_y, right_x = top + plot_h, top + plot_h / 2, width - right
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f"<desc>{escape(description)}</desc>" if description else "",
        f'<line class="axis" x1="{left}" y1="{bottom_y}" x2="{right_x}" y2="{bottom_y}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom_y}"/>',
        f'<line class="grid" x1="{left}" y1="{middle_y:.1f}" x2="{right_x}" y2="{middle_y:.1f}"/>',
        _tick(left - 6, top + 4, str(top_value)),
        _tick(left - 6, middle_y + 4, f"{top_value / 2:g}"),
        _tick(left - 6, bottom_y + 4, "0"),
        f'<text class="tick" x="{left}" y="{height - 8}">{escape(when(points[0][0]))}</text>',
    ]
    if len(points) > 1:
        parts.append(
            f'<text class="tick" x="{width - right}" y="{height - 8}" text-anchor="end">'
            f"{escape(when(points[-1][0]))}</text>"
        )
        parts.append(f'<polyline class="line" points="{coords}"/>')
    for i, (moment, count) in enumerate(points):
        parts.append(
            f'<circle class="dot" cx="{x(i):.1f}" cy="{y(count):.1f}" r="3">'
            f"<title>{escape(when(moment))}: {count}</title></circle>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))


SERIES = (("added", "bar-added"), ("removed", "bar-removed"), ("changed", "bar-changed"))


def changes_chart(
    points: Sequence[tuple[datetime | str, int, int, int]],
    *,
    title: str,
    names: dict[str, str],
    width: int = 640,
    height: int = 180,
) -> Markup:
    """Stacked bars of added / removed / changed per run (oldest first), with a legend
    naming each colour in ``names``. Empty input gives an empty string."""
    if not points:
        return Markup("")
    left, right, top, bottom = 48, 12, 24, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max(a + r + c for _, a, r, c in points))
    slot = plot_w / len(points)
    bar = max(2.0, min(28.0, slot * 0.7))
    bottom_y = top + plot_h

    def when(value: datetime | str) -> str:
        return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{left}" y1="{bottom_y}" x2="{width - right}" y2="{bottom_y}"/>',
        f'<line class="axis" x1="{left}" y1="{top}" x2="{left}" y2="{bottom_y}"/>',
        _tick(left - 6, top + 4, str(top_value)),
        _tick(left - 6, bottom_y + 4, "0"),
        f'<text class="tick" x="{left}" y="{height - 8}">{escape(when(points[0][0]))}</text>',
    ]
    if len(points) > 1:
        parts.append(f'<text class="tick" x="{width - right}" y="{height - 8}" text-anchor="end">'
                     f"{escape(when(points[-1][0]))}</text>")
    legend_x = left + 4
    for key, css in SERIES:
        parts.append(f'<rect class="{css}" x="{legend_x}" y="6" width="10" height="10"/>'
                     f'<text class="tick" x="{legend_x + 14}" y="15">{escape(names.get(key, key))}</text>')
        legend_x += 24 + 8 * len(names.get(key, key))
    for i, (moment, added, removed, changed) in enumerate(points):
        x = left + i * slot + (slot - bar) / 2
        y = float(bottom_y)
        label = (f"{when(moment)}: {names.get('added', 'added')} {added}, "
                 f"{names.get('removed', 'removed')} {removed}, {names.get('changed', 'changed')} {changed}")
        parts.append(f"<g><title>{escape(label)}</title>")
        for (key, css), count in zip(SERIES, (added, removed, changed), strict=True):
            if count <= 0:
                continue
            h = count / top_value * plot_h
            y -= h
            parts.append(f'<rect class="{css}" data-series="{key}" x="{x:.1f}" y="{y:.1f}" '
                         f'width="{bar:.1f}" height="{h:.1f}"/>')
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))
