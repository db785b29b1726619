"""Inline SVG charts for the cockpit (no JavaScript, no build step): horizontal bars."""

from __future__ import annotations

from html import escape

from markupsafe import Markup


def bar_chart(title: str, rows: list[tuple[str, float]], *, unit: str = "", width: int = 320) -> Markup:
    """One bar per (label, value), scaled to the largest value; labels and values are escaped."""
    label_w, bar_h, gap = 110, 18, 6
    peak = max((value for _, value in rows), default=0) or 1
    height = len(rows) * (bar_h + gap) + 24
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg"><text x="0" y="12">{escape(title)}</text>'
    ]
    for index, (label, value) in enumerate(rows):
        y = 20 + index * (bar_h + gap)
        length = (width - label_w - 50) * value / peak
        shown = f"{value:g}{unit}"
        parts.append(
            f'<text x="0" y="{y + 13}">{escape(label)}</text>'
            f'<rect class="{"bar-fill" if index % 2 == 0 else "bar-alt"}" x="{label_w}" y="{y}" '
            f'width="{length:.1f}" height="{bar_h}"/>'
            f'<text x="{label_w + length + 4:.1f}" y="{y + 13}">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
