"""Charts drawn on the server as inline SVG: nothing is loaded from outside the server, and they print.

Every chart is one `<svg>` with a `<title>` and a plain-text `<desc>` of its data. CSS classes let a
stylesheet restyle it; inline fill and stroke make it readable without one. Output is deterministic.
Axes start at zero (sparklines excepted) and values below zero are drawn at zero: counts, durations, rates.
"""

from __future__ import annotations

import hashlib
import math
import re
import textwrap
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

# Okabe-Ito: tells apart with the common colour-vision deficiencies, and in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9")
TEXT, MUTED, GRID, AXIS = "#222", "#666", "#d0d0d0", "#555"
FONT = "system-ui, -apple-system, 'Segoe UI', sans-serif"
FONT_SIZE = 11
CHAR_W = 6.2  # average glyph width at FONT_SIZE: text is measured without a browser, so roughly
DASH = "5 3"
EMPTY_TEXT = "No data for this period"
EN_DASH = "\u2013"
SVG_NS = "http://www.w3.org/2000/svg"
# Characters XML 1.0 forbids; one in a label would make the whole chart unparseable.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class Series:
    """One line (or radar polygon) of values; None is a point without data."""
    name: str
    values: list[float | None]
    dashed: bool = False  # e.g. the previous period


@dataclass(frozen=True)
class Bar:
    """One row of a bar chart, with the previous period's value drawn as a tick."""
    label: str
    value: float | None
    previous: float | None = None
    href: str | None = None


def format_number(value: float, unit: str = "") -> str:
    """Compact label: 1234 -> "1,234", 0.5 -> "0.5", 1250000 -> "1.25M"; the unit is appended as given."""
    size = abs(value)
    if not math.isfinite(size):
        return "no data"
    scale, suffix = (1e9, "B") if size >= 1e9 else (1e6, "M") if size >= 1e6 else (1.0, "")
    if size >= 1 or size == 0:
        digits = 2 if suffix or size < 10 else 1 if size < 100 else 0
    else:  # two significant digits, so 0.015 stays 0.015
        digits = min(6, 1 - math.floor(math.log10(size)))
    text = f"{round(value / scale, digits) + 0.0:,.{digits}f}"  # + 0.0 turns -0.0 into 0.0
    return (text.rstrip("0").rstrip(".") if "." in text else text) + suffix + unit


def nice_axis(top: float) -> tuple[float, int]:
    """The axis maximum (1, 2, 2.5 or 5 x 10^n) at or above `top`, and how many gridlines divide it evenly."""
    if not (math.isfinite(top) and top > 0):
        return 1.0, 5
    power = 10.0 ** math.floor(math.log10(top))
    for mantissa, lines in ((1.0, 5), (2.0, 4), (2.5, 5), (5.0, 5), (10.0, 5)):
        if mantissa * power >= top * (1 - 1e-9):
            return (mantissa * power, lines) if math.isfinite(mantissa * power) else (top, lines)
    return top, 5


def safe_href(href: str | None) -> str | None:
    """The link if it is a relative path or an http(s) URL; javascript:, data:, //host and the like are dropped."""
    href = (href or "").strip()
    if not href or any(ch <= " " or ch in "\\\x7f" for ch in href):
        return None
    try:
        parts = urlsplit(href)
    except ValueError:
        return None
    if parts.scheme:
        return href if parts.scheme in ("http", "https") and parts.netloc else None
    return None if parts.netloc else href


def histogram_bins(values: list[float], bins: int = 10) -> list[tuple[float, float, int]]:
    """(low, high, count) per equal-width bin from min to max; the last bin includes max; equal values -> one bin."""
    data = sorted(v for v in map(_finite, values) if v is not None)
    if not data:
        return []
    low, high = data[0], data[-1]
    bins = max(1, min(int(bins), 200))
    step = (high - low) / bins
    if high == low or not math.isfinite(step) or step == 0:
        return [(low, high, len(data))]
    counts = [0] * bins
    for value in data:
        counts[min(int((value - low) / step), bins - 1)] += 1
    edges = [low + step * i for i in range(bins)] + [high]
    return [(edges[i], edges[i + 1], counts[i]) for i in range(bins)]


def line_chart(series: list[Series], *, x_labels: list[str], title: str, unit: str = "",
               hrefs: list[str | None] | None = None, width: int = 640, height: int = 220) -> SafeString:
    """Trend over time: y from 0 to a nice maximum, a gap at each None, points of the first series linked."""
    data = [[_finite(v) for v in s.values] for s in series]
    present = [v for values in data for v in values if v is not None]
    if not present:
        return _empty("line", title, width)
    count = max(len(x_labels), *(len(values) for values in data))
    labels = [str(x_labels[i]) if i < len(x_labels) else "" for i in range(count)]
    legend, rows = _legend(series, 8, 14, width) if len(series) > 1 else ("", 0)
    left, top, bottom = 52.0, 10.0 + 18 * rows, height - 24.0
    plot_w, plot_h = max(width - left - 12, 1.0), max(bottom - top, 1.0)
    axis_top, lines = nice_axis(max(present))

    def x_at(i: int) -> float:
        return left + plot_w * (i + 0.5) / count

    def y_at(value: float) -> float:
        return bottom - plot_h * _ratio(value, axis_top)

    parts = [legend, _y_axis(left, left + plot_w, bottom, plot_h, axis_top, lines, unit),
             _x_labels([(x_at(i), label) for i, label in enumerate(labels)], bottom + 16, plot_w / count)]
    for index, (s, values) in enumerate(zip(series, data, strict=True)):
        css, colour = _series_class(index, s), PALETTE[index % len(PALETTE)]
        points = [None if v is None else (x_at(i), y_at(v)) for i, v in enumerate(values)]
        parts.append(_tag("path", {"class": f"chart-line {css}", "d": _path(points), "fill": "none", "stroke": colour,
                                   "stroke-width": 2, "stroke-linejoin": "round",
                                   "stroke-dasharray": DASH if s.dashed else None}))
        for i, value in enumerate(values):
            href = hrefs[i] if index == 0 and hrefs and i < len(hrefs) else None
            alone = (i == 0 or values[i - 1] is None) and (i + 1 == len(values) or values[i + 1] is None)
            if value is None or not (plot_w / count >= 12 or alone or safe_href(href)):
                continue  # a dot per point would hide a crowded line
            tip = _tag("title", {}, _esc(f"{s.name}, {labels[i]}: {format_number(value, unit)}"))
            dot = _tag("circle", {"class": css, "cx": x_at(i), "cy": y_at(value), "r": 3, "stroke": colour,
                                  "fill": "#fff" if s.dashed else colour, "stroke-width": 1.5}, tip)
            parts.append(_link(href, dot))
    desc = "; ".join(f"{s.name}: " + ", ".join(f"{labels[i]} {_shown(v, unit)}".strip() for i, v in enumerate(values))
                     for s, values in zip(series, data, strict=True))
    return _svg("line", title, desc, width, height, "".join(parts))


def bar_chart(bars: list[Bar], *, title: str, unit: str = "", width: int = 640) -> SafeString:
    """Horizontal bars, one row each: label left, bar, value right; the previous value is a tick across the bar."""
    values = [_finite(b.value) for b in bars]
    if all(v is None for v in values):
        return _empty("bar", title, width)
    previous = [_finite(b.previous) for b in bars]
    shown = [_shown(v, unit) for v in values]
    label_w = min(max(max(len(b.label) for b in bars) * CHAR_W + 14, 60), width * 0.35)
    value_w = min(max(max(len(s) for s in shown) * CHAR_W + 12, 44), width * 0.25)
    area = max(width - label_w - value_w, 10.0)
    scale = max((v for v in values + previous if v is not None and v > 0), default=1.0)
    row, pad = 24.0, 6.0
    parts, about = [], []
    for i, bar in enumerate(bars):
        y, value, before = pad + row * i, values[i], previous[i]
        about.append(f"{bar.label}: {shown[i]}" + (f" (previous {_shown(before, unit)})" if before is not None else ""))
        label = _fit(bar.label, label_w - 10)  # the column is sized 14 wider than its longest label
        tip = _tag("title", {}, _esc(bar.label)) if label != bar.label else ""
        cells = [_tag("text", {"x": label_w - 8, "y": y + 16, "text-anchor": "end", "fill": TEXT},
                      tip + _esc(label))]
        if value is None:
            cells.append(_text(shown[i], label_w + 4, y + 16, css="chart-missing", fill=MUTED))
        else:
            cells.append(_tag("rect", {"class": "chart-bar chart-series-0", "x": label_w, "y": y + 5,
                                       "width": area * _ratio(value, scale), "height": 14, "fill": PALETTE[0]},
                              _tag("title", {}, _esc(about[-1]))))
            cells.append(_text(shown[i], label_w + area + 6, y + 16))
        if before is not None:
            tick = label_w + area * _ratio(before, scale)
            cells.append(_tag("line", {"class": "chart-prev", "x1": tick, "x2": tick, "y1": y + 2, "y2": y + row - 2,
                                       "stroke": TEXT, "stroke-width": 2}))
        parts.append(_link(bar.href, "".join(cells)))
    height = pad * 2 + row * len(bars)
    if any(p is not None for p in previous):  # a key, so the tick still explains itself on paper
        parts.append(_tag("line", {"class": "chart-prev", "x1": label_w, "x2": label_w, "y1": height - 2,
                                   "y2": height + 10, "stroke": TEXT, "stroke-width": 2}))
        parts.append(_text("Previous period", label_w + 6, height + 8, fill=MUTED))
        height += 16
    return _svg("bar", title, ", ".join(about), width, height, "".join(parts))


def histogram(values: list[float], *, title: str, unit: str = "", bins: int = 10,
              href_for: Callable[[float, float], str | None] | None = None, width: int = 640,
              height: int = 200) -> SafeString:
    """Distribution: a bar per equal-width bin with its count, bin edges on the x axis, each bin optionally a link."""
    table = histogram_bins(values, bins)
    if not table:
        return _empty("histogram", title, width)
    edges = [low for low, _, _ in table] + [table[-1][1]]
    names = [format_number(edge, unit) for edge in edges]
    left, top, bottom = 52.0, 18.0, height - 24.0
    plot_w = max(width - left - max(12.0, len(names[-1]) * CHAR_W / 2 + 4), 1.0)
    plot_h = max(bottom - top, 1.0)
    axis_top, lines = nice_axis(max(count for _, _, count in table))
    if axis_top < 5:  # counts are whole numbers: no gridline at 0.5
        lines = max(1, int(axis_top))
    parts = [_y_axis(left, left + plot_w, bottom, plot_h, axis_top, lines, "")]
    slot = plot_w / len(table) if len(table) > 1 else min(plot_w, 80.0)
    start = left if len(table) > 1 else left + (plot_w - slot) / 2  # a lone bin is a bar, not a wall
    about = []
    for i, (low, high, count) in enumerate(table):
        span = names[i] if low == high else f"{names[i]}{EN_DASH}{names[i + 1]}"
        about.append(f"{span}: {count}")
        tall = plot_h * _ratio(count, axis_top)
        x = start + slot * i
        cells = _tag("rect", {"class": "chart-bar chart-series-0", "x": x + 1, "y": bottom - tall,
                              "width": max(slot - 2, 0.5), "height": tall, "fill": PALETTE[0]},
                     _tag("title", {}, _esc(about[-1])))
        if count and slot >= len(str(count)) * CHAR_W:
            cells += _text(str(count), x + slot / 2, bottom - tall - 4, "middle", css="chart-count")
        parts.append(_link(href_for(low, high) if href_for else None, cells))
    if len(table) == 1:
        parts.append(_text(names[0], left + plot_w / 2, bottom + 16, "middle"))
    else:
        parts.append(_x_labels([(left + slot * i, name) for i, name in enumerate(names)], bottom + 16, slot))
    desc = f"{sum(count for _, _, count in table)} values. " + ", ".join(about)
    return _svg("histogram", title, desc, width, height, "".join(parts))


def radar_chart(axes: list[str], series: list[Series], *, max_value: float = 5, title: str,
                size: int = 360) -> SafeString:
    """A spoke per axis, a ring per whole step up to max_value, a translucent polygon per series (None counts as 0)."""
    data = [[_finite(s.values[i]) if i < len(s.values) else None for i in range(len(axes))] for s in series]
    if len(axes) < 3 or all(v is None for values in data for v in values):
        return _empty("radar", title, size)
    top = _finite(max_value) or 0.0
    if top <= 0:
        top = max((v for values in data for v in values if v is not None and v > 0), default=1.0)
    wrapped = [textwrap.wrap(str(name), 13, max_lines=2, placeholder=" …") or [""] for name in axes]
    side = max(len(line) for lines in wrapped for line in lines) * CHAR_W + 14  # labels beside the rings
    radius, count = max(size / 2 - 36, 10.0), len(axes)  # 36: two lines of label above and below
    width = max(float(size), 2 * (radius + side))  # wider than `size` rather than a radar shrunk by its labels
    cx, cy = width / 2, size / 2

    def point(i: int, r: float) -> tuple[float, float]:
        angle = -math.pi / 2 + 2 * math.pi * i / count  # first spoke straight up, then clockwise
        return cx + r * math.cos(angle), cy + r * math.sin(angle)

    def polygon(radii: list[float]) -> str:
        return " ".join(f"{_n(x)},{_n(y)}" for x, y in (point(i, r) for i, r in enumerate(radii)))

    step = 1.0 if top <= 10 else float(math.ceil(top / 10))
    rings = [step * k for k in range(1, math.floor(top / step + 1e-9) + 1)]
    if not rings or rings[-1] < top:
        rings.append(top)
    parts = [_tag("polygon", {"class": "chart-grid", "points": polygon([radius * r / top] * count),
                              "fill": "none", "stroke": GRID, "stroke-width": 1}) for r in rings]
    parts += [_text(format_number(ring), cx + 4, cy - radius * ring / top + 10, fill=MUTED) for ring in rings]
    for i, lines in enumerate(wrapped):
        x, y = point(i, radius)
        parts.append(_tag("line", {"class": "chart-axis", "x1": cx, "y1": cy, "x2": x, "y2": y,
                                   "stroke": GRID, "stroke-width": 1}))
        lx, ly = point(i, radius + 8)
        cos, sin = (lx - cx) / (radius + 8), (ly - cy) / (radius + 8)
        anchor = "start" if cos > 0.3 else "end" if cos < -0.3 else "middle"
        first = ly - 13 * (len(lines) - 1) if sin < -0.3 else ly + 9 if sin > 0.3 else ly + 4 - 6.5 * (len(lines) - 1)
        spans = "".join(_tag("tspan", {"x": lx, "dy": 0 if k == 0 else 13}, _esc(line)) for k, line in enumerate(lines))
        tip = _tag("title", {}, _esc(str(axes[i]))) if " ".join(lines) != str(axes[i]) else ""
        parts.append(_tag("text", {"x": lx, "y": first, "text-anchor": anchor, "fill": TEXT}, tip + spans))
    for index, (s, values) in enumerate(zip(series, data, strict=True)):
        css, colour = _series_class(index, s), PALETTE[index % len(PALETTE)]
        radii = [radius * _ratio(v or 0.0, top) for v in values]
        parts.append(_tag("polygon", {"class": f"chart-area {css}", "points": polygon(radii), "fill": colour,
                                      "fill-opacity": "0.15", "stroke": colour, "stroke-width": 2,
                                      "stroke-dasharray": DASH if s.dashed else None}))
    height = float(size)
    if len(series) > 1:
        legend, rows = _legend(series, 8, size + 4, width)
        parts.append(legend)
        height += 18 * rows
    desc = "; ".join(f"{s.name}: " + ", ".join(f"{axes[i]} {_shown(v, '')}" for i, v in enumerate(values))
                     for s, values in zip(series, data, strict=True))
    return _svg("radar", title, f"{desc} (scale 0 to {format_number(top)})", width, height, "".join(parts))


def sparkline(values: list[float | None], *, title: str, width: int = 120, height: int = 28) -> SafeString:
    """A word-sized trend: the line from its lowest to its highest value, with a dot on the latest one."""
    data = [_finite(v) for v in values]
    present = [v for v in data if v is not None]
    if not present:
        return _empty("sparkline", title, width, height)
    low, high, pad = min(present), max(present), 3.0

    def x_at(i: int) -> float:
        return pad + (width - 2 * pad) * (i / (len(data) - 1) if len(data) > 1 else 0.5)

    def y_at(value: float) -> float:  # lowest to highest, not from zero: a sparkline shows the shape
        return height - pad - (height - 2 * pad) * (_ratio(value - low, high - low) if high > low else 0.5)

    points = [None if v is None else (x_at(i), y_at(v)) for i, v in enumerate(data)]
    last = [p for p in points if p is not None][-1]
    body = _tag("path", {"class": "chart-line chart-series-0", "d": _path(points), "fill": "none",
                         "stroke": PALETTE[0], "stroke-width": 1.5, "stroke-linejoin": "round"})
    body += _tag("circle", {"class": "chart-series-0", "cx": last[0], "cy": last[1], "r": 2,
                            "fill": PALETTE[0]})
    desc = (f"{len(data)} points, latest {format_number(present[-1])}, lowest {format_number(low)}, "
            f"highest {format_number(high)}")
    return _svg("sparkline", title, desc, width, height, body)


# --- drawing helpers ---------------------------------------------------------------------------------------------


def _svg(kind: str, title: str, desc: str, width: float, height: float, body: str) -> SafeString:
    title, desc = _esc(title), _esc(desc)
    digest = hashlib.blake2s(f"{kind}\n{title}\n{desc}\n{body}".encode(), digest_size=5).hexdigest()
    ident = f"chart-{digest}"  # from the content: deterministic, and distinct for distinct charts on one page
    attrs = {"xmlns": SVG_NS, "class": f"chart chart-{kind}", "viewBox": f"0 0 {_n(width)} {_n(height)}",
             "width": float(width), "height": float(height), "role": "img",
             "aria-labelledby": f"{ident}-title {ident}-desc", "font-family": FONT, "font-size": FONT_SIZE}
    head = _tag("title", {"id": f"{ident}-title"}, title) + _tag("desc", {"id": f"{ident}-desc"}, desc)
    return mark_safe(_tag("svg", attrs, head + body))


def _empty(kind: str, title: str, width: float, height: float = 48) -> SafeString:
    size = min(FONT_SIZE, height * 0.45)
    squeeze = len(EMPTY_TEXT) * size * 0.56 > width - 8  # too narrow (a sparkline): condense rather than clip
    body = _tag("text", {"class": "chart-empty", "x": width / 2, "y": height / 2 + size * 0.35,
                         "text-anchor": "middle", "fill": MUTED, "font-size": float(size),
                         "textLength": float(width - 8) if squeeze else None,
                         "lengthAdjust": "spacingAndGlyphs" if squeeze else None}, EMPTY_TEXT)
    return _svg(kind, title, EMPTY_TEXT, width, height, body)


def _y_axis(left: float, right: float, bottom: float, plot_h: float, top: float, lines: int, unit: str) -> str:
    out = []
    for k in range(lines + 1):
        y = bottom - plot_h * k / lines
        if k:
            out.append(_tag("line", {"class": "chart-grid", "x1": left, "x2": right, "y1": y, "y2": y,
                                     "stroke": GRID, "stroke-width": 1}))
        out.append(_text(format_number(top * k / lines, unit), left - 6, y + 4, "end"))
    out.append(_tag("line", {"class": "chart-axis", "x1": left, "x2": right, "y1": bottom, "y2": bottom,
                             "stroke": AXIS, "stroke-width": 1}))
    return "".join(out)


def _x_labels(labels: list[tuple[float, str]], y: float, room: float) -> str:
    """Every k-th label, k chosen so that neighbours do not overlap; `room` is the gap between positions."""
    widest = max((len(text) for _, text in labels), default=0) * CHAR_W + 8
    step = max(1, math.ceil(widest / room)) if room > 0 else max(len(labels), 1)
    return "".join(_text(text, x, y, "middle") for i, (x, text) in enumerate(labels) if i % step == 0)


def _legend(series: list[Series], x0: float, y0: float, width: float) -> tuple[str, int]:
    """A swatch and name per series, wrapping into rows; returns the markup and the number of rows."""
    out, x, y, rows = [], x0, y0, 1
    for index, s in enumerate(series):
        name = _fit(s.name, width - x0 - 30)
        item = 24 + len(name) * CHAR_W + 14
        if x > x0 and x + item > width:
            x, y, rows = x0, y + 18, rows + 1
        out.append(_tag("line", {"class": _series_class(index, s), "x1": x, "x2": x + 18, "y1": y - 4, "y2": y - 4,
                                 "stroke": PALETTE[index % len(PALETTE)], "stroke-width": 2.5,
                                 "stroke-dasharray": DASH if s.dashed else None}))
        out.append(_text(name, x + 22, y))
        x += item
    return "".join(out), rows


def _path(points: list[tuple[float, float] | None]) -> str:
    """Path data that lifts the pen at every None, so a gap splits the line into separate segments."""
    commands, drawing = [], False
    for point in points:
        if point is None:
            drawing = False
            continue
        commands.append(f"{'L' if drawing else 'M'}{_n(point[0])} {_n(point[1])}")
        drawing = True
    return " ".join(commands)


def _text(content: str, x: float, y: float, anchor: str = "start", *, css: str | None = None,
          fill: str = TEXT) -> str:
    attrs = {"class": css, "x": x, "y": y, "text-anchor": None if anchor == "start" else anchor, "fill": fill}
    return _tag("text", attrs, _esc(content))


def _tag(name: str, attrs: Mapping[str, object], body: str | None = None) -> str:
    """An element; attribute values are escaped here, `body` must already be markup."""
    parts = [name]
    for key, value in attrs.items():
        if value is not None:
            parts.append(f'{key}="{_n(value) if isinstance(value, float) else _esc(str(value))}"')
    opening = " ".join(parts)
    return f"<{opening}/>" if body is None else f"<{opening}>{body}</{name}>"


def _link(href: str | None, body: str) -> str:
    target = safe_href(href)
    return _tag("a", {"href": target}, body) if target else body


def _series_class(index: int, s: Series) -> str:
    return f"chart-series-{index % len(PALETTE)}" + (" chart-dashed" if s.dashed else "")


def _esc(text: str) -> str:
    return escape(_XML_INVALID.sub("", str(text)))


def _n(value: float) -> str:
    """A coordinate rounded to one decimal, without a trailing .0 or a negative zero."""
    text = f"{round(value, 1) + 0.0:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _finite(value: float | None) -> float | None:
    """The value as a float (Decimal from an aggregate included), or None when missing, NaN or infinite."""
    try:
        number = math.nan if value is None else float(value)
    except (TypeError, ValueError):  # a stray string, or a signalling Decimal NaN
        return None
    return number if math.isfinite(number) else None


def _ratio(value: float, scale: float) -> float:
    return max(0.0, min(value / scale, 1.0)) if scale > 0 else 0.0


def _fit(text: str, room: float) -> str:
    limit = max(int(room / CHAR_W), 2)
    return text if len(text) <= limit else text[: limit - 1] + "…"




def _shown(value: float | None, unit: str) -> str:
    return "no data" if value is None else format_number(value, unit)

