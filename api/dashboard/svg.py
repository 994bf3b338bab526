"""Server-rendered SVG pictures for the dashboard: herd charts and field maps.

Drawn on the server as plain SVG, so the pages need no JavaScript library, no CDN and no map tiles
(farm offices and this project's CI are often offline), and what a cooperative sees is exactly what
the database holds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape

PALETTE = ("#2f6f4f", "#c2702b", "#3b6aa0", "#8c4a8c", "#9a8a2a", "#5a5a5a")


def _empty(width: int, height: int, text: str) -> str:
    return f'<svg width="{width}" height="{height}" role="img"><text x="10" y="24">{escape(text)}</text></svg>'


Band = tuple[float, float | None]
"""A point's interval ``(low, high)``; ``high`` None: unbounded above."""


@dataclass(frozen=True)
class Series:
    """One line of a chart: a label, its (day, value) points in day order, and optionally each point's interval.

    ``band`` is empty (no interval drawn) or holds one entry per point: its ``(low, high)`` or None (no
    interval that day, which breaks the shaded band).
    """

    label: str
    points: Sequence[tuple[date, float]]
    band: Sequence[Band | None] = ()


def _runs(series: Series) -> list[list[tuple[date, float, float | None]]]:
    """The series' consecutive points that carry an interval, as runs of ``(day, low, high)``."""
    runs: list[list[tuple[date, float, float | None]]] = [[]]
    for (day, _), interval in zip(series.points, series.band or [None] * len(series.points), strict=True):
        if interval is None:
            runs.append([])
        else:
            runs[-1].append((day, *interval))
    return [r for r in runs if r]


def line_chart(
    series: Sequence[Series], *, width: int = 640, height: int = 220, unit: str = "head", band_label: str = ""
) -> str:
    """A line chart of daily values, one line per series, with labelled axes and a legend.

    A series with a ``band`` gets it shaded in its colour behind its line (an upper end unbounded above
    reaches the top of the chart); ``band_label`` names the shading in the legend.
    """
    pad_l, pad_r, pad_t, pad_b = 44, 40, 14, 36
    days = sorted({d for s in series for d, _ in s.points})
    if not days:
        return _empty(width, height, "No data yet")
    highs = [iv[1] or iv[0] for s in series for iv in s.band if iv is not None]
    top = max([v for s in series for _, v in s.points] + highs, default=1.0) or 1.0
    top = math.ceil(top * 1.15)
    first, last = days[0], days[-1]
    span = max((last - first).days, 1)

    def x(d: date) -> float:
        return pad_l + (width - pad_l - pad_r) * (d - first).days / span

    def y(v: float) -> float:
        return height - pad_b - (height - pad_t - pad_b) * v / top

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for tick in range(0, top + 1, max(1, top // 4)):
        parts.append(f'<line x1="{pad_l}" x2="{width - pad_r}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" class="grid"/>')
        parts.append(f'<text x="{pad_l - 6}" y="{y(tick) + 4:.1f}" text-anchor="end">{tick}</text>')
    for d in (first, last):
        parts.append(f'<text x="{x(d):.1f}" y="{height - pad_b + 16}" text-anchor="middle">{d.isoformat()}</text>')
    parts.append(f'<text x="12" y="{pad_t + 4}" class="unit">{escape(unit)}</text>')
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        for run in _runs(s):
            # a one-day run is drawn 6 px wide so it shows; an upper end unbounded above reaches the top
            xs = [x(d) for d, _, _ in run] if len(run) > 1 else [x(run[0][0]) - 3, x(run[0][0]) + 3]
            ends = run if len(run) > 1 else run * 2
            upper = [
                f"{px:.1f},{y(top if high is None else high):.1f}" for px, (_, _, high) in zip(xs, ends, strict=True)
            ]
            lower = [f"{px:.1f},{y(low):.1f}" for px, (_, low, _) in zip(xs, ends, strict=True)]
            parts.append(
                f'<polygon class="band" fill="{colour}" fill-opacity="0.2" stroke="none" '
                f'points="{" ".join(upper + lower[::-1])}"/>'
            )
    for index, s in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        pts = " ".join(f"{x(d):.1f},{y(v):.1f}" for d, v in s.points)
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{pts}"/>')
        intervals = s.band or [None] * len(s.points)
        for (d, v), interval in zip(s.points, intervals, strict=True):
            shown = "" if interval is None else f" ({_interval_text(interval)})"
            parts.append(
                f'<circle cx="{x(d):.1f}" cy="{y(v):.1f}" r="3" fill="{colour}"><title>{escape(s.label)} '
                f"{d.isoformat()}: {v:g} {escape(unit)}{escape(shown)}</title></circle>"
            )
        parts.append(
            f'<text x="{pad_l + 8 + 110 * index}" y="{height - 6}" fill="{colour}">&#9632; {escape(s.label)}</text>'
        )
    if band_label and any(_runs(s) for s in series if s.band):
        parts.append(
            f'<text x="{width - pad_r}" y="{height - 6}" text-anchor="end" class="band-legend">'
            f"shaded: {escape(band_label)}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


@dataclass(frozen=True)
class MapField:
    """A field to draw: its name, GeoJSON geometry in EPSG:4326, and observed/declared ratio if known."""

    label: str
    geometry: dict[str, object]
    ratio: float | None


def ratio_colour(ratio: float | None) -> str:
    """Fill colour for an observed/declared ratio: green when it agrees, amber, red, grey when unknown."""
    if ratio is None:
        return "#b8b8b8"
    if ratio >= 0.9:
        return "#3d9a5b"
    if ratio >= 0.6:
        return "#e0a030"
    return "#cc4b37"


def _rings(geometry: dict[str, object]) -> list[list[tuple[float, float]]]:
    kind, coords = geometry.get("type"), geometry.get("coordinates", [])
    polygons = [coords] if kind == "Polygon" else coords if kind == "MultiPolygon" else []
    return [[(float(p[0]), float(p[1])) for p in ring] for poly in polygons for ring in poly]  # type: ignore[union-attr]


def field_map(fields: Sequence[MapField], *, width: int = 640, height: int = 360) -> str:
    """A map of field outlines (equirectangular, scaled by the cosine of the latitude), coloured by ratio."""
    rings = [(f, _rings(f.geometry)) for f in fields]
    points = [p for _, rs in rings for ring in rs for p in ring]
    if not points:
        return (
            f'<svg class="map" width="{width}" height="{height}" role="img"><text x="10" y="24">No fields</text></svg>'
        )
    lon0, lon1 = min(p[0] for p in points), max(p[0] for p in points)
    lat0, lat1 = min(p[1] for p in points), max(p[1] for p in points)
    k = math.cos(math.radians((lat0 + lat1) / 2))
    span_x, span_y = max((lon1 - lon0) * k, 1e-9), max(lat1 - lat0, 1e-9)
    scale = min((width - 20) / span_x, (height - 20) / span_y)

    def xy(p: tuple[float, float]) -> str:
        return f"{10 + (p[0] - lon0) * k * scale:.1f},{height - 10 - (p[1] - lat0) * scale:.1f}"

    parts = [f'<svg class="map" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">']
    for f, rs in rings:
        label = f"{f.label}: " + (f"observed/declared {f.ratio:.2f}" if f.ratio is not None else "no estimate yet")
        for ring in rs:
            parts.append(
                f'<polygon points="{" ".join(xy(p) for p in ring)}" fill="{ratio_colour(f.ratio)}" '
                f'fill-opacity="0.75" stroke="#222" stroke-width="1"><title>{escape(label)}</title></polygon>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _interval_text(interval: Band) -> str:
    low, high = interval
    return f"{low:g}-{high:g}" if high is not None else f"{low:g} or more"
