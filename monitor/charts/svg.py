"""The first view of every chart: the same figure data plotly.js gets, drawn on the server as
an inline <svg> the browser paints with the page, before (and without) any JavaScript.

Only the part of plotly's figure language the builders in this package use is drawn:
scatter traces (lines with gaps, steps, filled bands, markers, text), horizontal bars
(grouped), shapes (rectangles, lines) in data or paper coordinates, linear, date and category
axes with their ranges and tick steps, and a legend below the plot. Hover text is left to the
interactive chart (static/js/charts.js), loaded only when the reader asks for it.

Each series is one <path> however many points it has, so a year of daily totals stays a few
dozen elements. The picture is role="img" with its label and a description; every chart on
the pages also has its numbers as a table. Pure: figure dict in, markup out; no Flask."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime

from markupsafe import Markup, escape

FONT_SIZE = 13
GLYPH = 0.58  # a glyph's mean width as a share of the font size (system-ui): enough to keep labels apart
TEXT = "#2a3f5f"  # plotly's default text colour, so the static and the interactive chart match
GRID = "#eef0f3"
COLORWAY = ["#636efa", "#EF553B", "#00cc96", "#ab63fa", "#FFA15A", "#19d3f3"]
LEGEND_ROW = 20
EMPTY = "Nothing to chart yet."  # a chart with no points: said in words, never empty axes


def _n(value: float) -> str:
    """A coordinate with one decimal at most: enough for a screen, short in the page."""
    tenths = round(value * 10)
    return str(tenths // 10) if tenths % 10 == 0 else f"{tenths / 10:.1f}"


def _attr(value) -> str:
    return str(escape(str(value)))


def text_width(text: str, size: float = FONT_SIZE) -> float:
    return len(text) * size * GLYPH


# --- values on an axis ---------------------------------------------------------------------

@lru_cache(maxsize=4096)  # the same dates come back for every trace, shape and drawing
def day_number(value) -> float | None:
    """A plotly date ("2026-11-10", "2026-11-10 12:00:00") as days since 1 Jan of year 1."""
    if value is None:
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        return float(value.toordinal())
    else:
        text = str(value).replace("T", " ")
        try:
            moment = datetime.fromisoformat(text) if len(text) > 10 else datetime.fromisoformat(text + " 00:00")
        except ValueError:
            return None
    seconds = moment.hour * 3600 + moment.minute * 60 + moment.second
    return moment.date().toordinal() + seconds / 86400


def _is_date(value) -> bool:
    return isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and day_number(value) is not None


@dataclass
class Axis:
    """One axis: what its values are, the data range shown, and where that range lies on screen."""

    kind: str  # "linear", "date" or "category"
    lo: float
    hi: float
    start: float  # pixel of lo
    end: float  # pixel of hi
    categories: list[str] = field(default_factory=list)
    ticks: list[tuple[float, str]] = field(default_factory=list)

    def value(self, raw) -> float | None:
        if raw is None:
            return None
        if self.kind == "date":
            return day_number(raw)
        if self.kind == "category":
            try:
                return float(self.categories.index(str(raw)))
            except ValueError:
                return None
        return float(raw) if isinstance(raw, (int, float)) and not isinstance(raw, bool) else None

    def pixel(self, raw) -> float | None:
        v = self.value(raw)
        return None if v is None else self.at(v)

    def at(self, v: float) -> float:
        span = (self.hi - self.lo) or 1.0
        return self.start + (v - self.lo) / span * (self.end - self.start)


def _title(spec) -> str:
    title = (spec or {}).get("title")
    if isinstance(title, dict):
        title = title.get("text")
    return str(title) if title else ""


def _kind(spec: dict, values: list) -> str:
    if spec.get("type") in ("linear", "date", "category"):
        return spec["type"]
    sample = next((v for v in values if v is not None), None)
    if isinstance(sample, str):
        return "date" if _is_date(sample) else "category"
    return "linear"


def _categories(spec: dict, values: list) -> list[str]:
    if spec.get("categoryorder") == "array" and spec.get("categoryarray"):
        return [str(c) for c in spec["categoryarray"]]
    seen: dict[str, None] = {}
    for v in values:
        if v is not None:
            seen.setdefault(str(v), None)
    return list(seen)


def _nice_step(span: float, most: int) -> float:
    """The smallest 1, 2 or 5 x 10^k that splits `span` into at most `most` steps."""
    raw = span / max(most, 1)
    power = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return m * power
    return 10 * power


def _number(v: float) -> str:
    text = f"{v:.0f}" if abs(v - round(v)) < 1e-9 else f"{v:.1f}"
    return "0" if text in ("-0", "-0.0") else text.replace("-", "\u2212")  # a true minus sign, as plotly


def _linear_ticks(lo: float, hi: float, dtick, pixels: float, horizontal: bool) -> list[tuple[float, str]]:
    room = max(pixels, 1)
    widest = max(text_width(_number(lo)), text_width(_number(hi))) + 12 if horizontal else FONT_SIZE * 2
    most = max(2, int(room // widest))
    step = float(dtick) if isinstance(dtick, (int, float)) and dtick > 0 else _nice_step(hi - lo, min(most, 8))
    while (hi - lo) / step > most:  # a given step too fine for this width: every other tick
        step *= 2
    first = math.ceil(lo / step - 1e-9) * step
    count = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [(first + i * step, _number(first + i * step)) for i in range(max(count, 0))]


DAY_STEPS = (1, 2, 7, 14)
MONTH_STEPS = (1, 2, 3, 6, 12)


def _date_ticks(lo: float, hi: float, pixels: float) -> list[tuple[float, str]]:
    """Ticks on whole days: every n days (weekly ones on Mondays) or on the first of every n
    months, as far apart as the labels need; labelled "3 Nov", or "Nov" by month (the year on the first and on January)."""
    span = max(hi - lo, 1e-9)
    first_day, last_day = math.ceil(lo - 1e-9), math.floor(hi + 1e-9)
    for step in DAY_STEPS:
        if span / step * (text_width("30 Nov") + 14) <= pixels:
            start = first_day
            if step >= 7:  # from a Monday
                start += (7 - date.fromordinal(first_day).weekday()) % 7
            return [(float(d), f"{date.fromordinal(d):%-d %b}") for d in range(start, last_day + 1, step)]
    for step in MONTH_STEPS:
        if span / (30.4 * step) * (text_width("Nov") + 14) <= pixels or step == 12:
            break
    day = date.fromordinal(first_day)
    month = date(day.year, day.month, 1)
    if month.toordinal() < first_day:
        month = _add_months(month, 1)
    ticks = []
    while month.toordinal() <= last_day:
        if (month.month - 1) % step == 0:
            label = f"{month:%b %Y}" if not ticks or month.month == 1 else f"{month:%b}"
            ticks.append((float(month.toordinal()), label))
        month = _add_months(month, 1)
    return ticks


def _add_months(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def _auto_range(kind: str, categories: int, numbers: list[float], *, tozero: bool, pad: bool) -> tuple[float, float]:
    if kind == "category":
        return -0.5, categories - 0.5
    lo, hi = (min(numbers), max(numbers)) if numbers else (0.0, 1.0)
    if tozero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    if hi == lo:
        return (lo - 1, hi + 1) if kind == "date" else (lo - 0.5 if lo else 0.0, hi + 1)
    if pad:
        margin = (hi - lo) * 0.05
        lo, hi = (lo if lo == 0 and tozero else lo - margin), hi + margin
    return lo, hi


def _axis(spec: dict, values: list, start: float, end: float, *, horizontal: bool, pad: bool,
          bars: bool) -> Axis:
    """The axis for these values from its layout: its given range, else the data's (from 0 for
    bars and rangemode "tozero", padded 5% where markers would be cut), and its ticks."""
    kind = _kind(spec, values)
    categories = _categories(spec, values) if kind == "category" else []
    probe = Axis(kind, 0, 1, start, end, categories)
    numbers = [v for v in (probe.value(x) for x in values) if v is not None]
    lo = hi = None
    given = spec.get("range")
    if given and len(given) == 2 and None not in given:
        lo, hi = ((float(given[0]), float(given[1])) if kind == "category"
                  else (probe.value(given[0]), probe.value(given[1])))
    if lo is None or hi is None:
        lo, hi = _auto_range(kind, len(categories), numbers, tozero=spec.get("rangemode") == "tozero" or bars,
                             pad=pad or bars)
    if spec.get("autorange") == "reversed":
        start, end = end, start
    axis = Axis(kind, lo, hi, start, end, categories)
    pixels = abs(end - start)
    if kind == "date":
        axis.ticks = _date_ticks(lo, hi, pixels)
    elif kind == "category":
        axis.ticks = [(float(i), c) for i, c in enumerate(categories) if lo <= i <= hi]
    else:
        axis.ticks = _linear_ticks(lo, hi, spec.get("dtick"), pixels, horizontal)
    return axis


# --- marks ---------------------------------------------------------------------------------

def _dash(dash, width: float) -> str:
    w = max(width, 3)  # as plotly.js: dots and dashes stay visible on thin lines
    pattern = {"dot": f"{_n(w)},{_n(w)}", "dash": f"{_n(3 * w)},{_n(3 * w)}",
               "longdash": f"{_n(5 * w)},{_n(5 * w)}", "dashdot": f"{_n(3 * w)},{_n(w)},{_n(w)},{_n(w)}"}
    return f' stroke-dasharray="{pattern[dash]}"' if dash in pattern else ""


def _symbol(symbol: str, x: float, y: float, size: float) -> str:
    """One marker as a subpath around (x, y); `size` is its diameter in pixels, as in plotly."""
    r = size / 2
    if symbol in ("circle", "circle-open"):
        return f"M{_n(x - r)},{_n(y)}a{_n(r)},{_n(r)} 0 1,0 {_n(2 * r)},0a{_n(r)},{_n(r)} 0 1,0 {_n(-2 * r)},0Z"
    if symbol == "triangle-down":
        half, low = r * 2 / math.sqrt(3), r / 2
        return f"M{_n(x - half)},{_n(y - low)}H{_n(x + half)}L{_n(x)},{_n(y + r)}Z"
    if symbol in ("square", "square-open"):
        return f"M{_n(x - r)},{_n(y - r)}h{_n(size)}v{_n(size)}h{_n(-size)}Z"
    if symbol in ("diamond", "diamond-open"):
        d = r * 1.3
        return f"M{_n(x + d)},{_n(y)}L{_n(x)},{_n(y + d)}L{_n(x - d)},{_n(y)}L{_n(x)},{_n(y - d)}Z"
    if symbol == "x":
        return f"M{_n(x - r)},{_n(y - r)}L{_n(x + r)},{_n(y + r)}M{_n(x - r)},{_n(y + r)}L{_n(x + r)},{_n(y - r)}"
    if symbol == "line-ns-open":
        return f"M{_n(x)},{_n(y - r)}V{_n(y + r)}"
    return _symbol("circle", x, y, size)


STROKED = {"x", "line-ns-open"}  # drawn with the pen, not filled


def _marker_paint(symbol: str, colour: str, line_width) -> str:
    if symbol in STROKED:
        return f'fill="none" stroke="{_attr(colour)}" stroke-width="{_n(line_width or 2)}"'
    if symbol.endswith("-open"):
        return f'fill="none" stroke="{_attr(colour)}" stroke-width="{_n(line_width or 1)}"'
    return f'fill="{_attr(colour)}"'


def _runs(xs: list, ys: list, xa: Axis, ya: Axis) -> list[list[tuple[float, float]]]:
    """The points as screen runs; a None (or a value off the axis) breaks the line."""
    runs: list[list[tuple[float, float]]] = [[]]
    for x, y in zip(xs, ys):
        px, py = xa.pixel(x), ya.pixel(y)
        if px is None or py is None:
            if runs[-1]:
                runs.append([])
            continue
        runs[-1].append((px, py))
    return [r for r in runs if r]


def _line_path(runs, shape: str) -> str:
    parts = []
    for run in runs:
        parts.append(f"M{_n(run[0][0])},{_n(run[0][1])}")
        for (x0, y0), (x1, y1) in zip(run, run[1:]):
            if shape == "hv":
                parts.append(f"H{_n(x1)}V{_n(y1)}")
            else:
                parts.append(f"L{_n(x1)},{_n(y1)}")
    return "".join(parts)


def _colour(trace: dict, index: int) -> str:
    line, marker = trace.get("line") or {}, trace.get("marker") or {}
    colour = marker.get("color") if isinstance(marker.get("color"), str) else None
    return line.get("color") or colour or COLORWAY[index % len(COLORWAY)]


def _scatter(trace: dict, index: int, xa: Axis, ya: Axis, previous: dict | None) -> list[str]:
    mode = trace.get("mode") or "lines+markers"
    xs, ys = list(trace.get("x") or []), list(trace.get("y") or [])
    line = trace.get("line") or {}
    colour = _colour(trace, index)
    out = []
    if trace.get("fill") == "tonexty" and previous is not None:
        out.append(_band(trace, previous, xa, ya))
    runs = _runs(xs, ys, xa, ya)
    width = line.get("width", 2)
    if "lines" in mode and width and runs:
        out.append(f'<path d="{_line_path(runs, line.get("shape", "linear"))}" fill="none" '
                   f'stroke="{_attr(colour)}" stroke-width="{_n(width)}" stroke-linejoin="round"'
                   f'{_dash(line.get("dash"), width)}/>')
    if "markers" in mode:
        marker = trace.get("marker") or {}
        symbol = marker.get("symbol") if isinstance(marker.get("symbol"), str) else "circle"
        size = marker.get("size") if isinstance(marker.get("size"), (int, float)) else 6
        mark_colour = marker.get("color") if isinstance(marker.get("color"), str) else colour
        points = [p for run in runs for p in run]
        if points and symbol == "circle":  # a dot: a zero-length stroke with round caps, a quarter of the bytes
            d = "".join(f"M{_n(x)},{_n(y)}h0" for x, y in points)
            out.append(f'<path d="{d}" stroke="{_attr(mark_colour)}" stroke-width="{_n(size)}" stroke-linecap="round"/>')
        elif points:
            d = "".join(_symbol(symbol, x, y, size) for x, y in points)
            out.append(f'<path d="{d}" {_marker_paint(symbol, mark_colour, (marker.get("line") or {}).get("width"))}/>')
    if "text" in mode:
        font = trace.get("textfont") or {}
        position = trace.get("textposition") or "middle center"
        anchor = "end" if "left" in position else "start" if "right" in position else "middle"
        shift = -6 if "top" in position else 14 if "bottom" in position else 4
        texts = trace.get("text") or []
        texts = texts if isinstance(texts, list) else [texts] * len(xs)
        for x, y, text in zip(xs, ys, texts):
            px, py = xa.pixel(x), ya.pixel(y)
            if px is not None and py is not None and text:
                out.append(f'<text x="{_n(px)}" y="{_n(py + shift)}" text-anchor="{anchor}" '
                           f'fill="{_attr(font.get("color", TEXT))}">{escape(text)}</text>')
    return out


def _band(trace: dict, lower: dict, xa: Axis, ya: Axis) -> str:
    """The area between this trace and the one before it (plotly's fill="tonexty")."""
    colour = trace.get("fillcolor") or (trace.get("line") or {}).get("color") or GRID
    shapes, upper_run, lower_run = [], [], []
    for x, y_hi, y_lo in zip(trace.get("x") or [], trace.get("y") or [], lower.get("y") or []):
        px, top, bottom = xa.pixel(x), ya.pixel(y_hi), ya.pixel(y_lo)
        if px is None or top is None or bottom is None:
            if upper_run:
                shapes.append((upper_run, lower_run))
            upper_run, lower_run = [], []
            continue
        upper_run.append((px, top))
        lower_run.append((px, bottom))
    if upper_run:
        shapes.append((upper_run, lower_run))
    d = "".join("M" + "L".join(f"{_n(x)},{_n(y)}" for x, y in up + low[::-1]) + "Z" for up, low in shapes)
    return f'<path d="{d}" fill="{_attr(colour)}" stroke="none"/>' if d else ""


def _bars(traces: list[tuple[int, dict]], xa: Axis, ya: Axis, grouped: bool) -> list[str]:
    """Horizontal bars: one band per category, split between the traces when grouped."""
    out = []
    per_category = abs(ya.at(1) - ya.at(0)) if len(ya.categories) > 0 else 20
    slots = len(traces) if grouped else 1
    thickness = per_category * 0.8 / slots
    for slot, (index, trace) in enumerate(traces):
        colour = (trace.get("marker") or {}).get("color") or COLORWAY[index % len(COLORWAY)]
        texts = trace.get("text") or []
        rects = []
        for i, (value, category) in enumerate(zip(trace.get("x") or [], trace.get("y") or [])):
            centre = ya.pixel(category)
            if centre is None:
                continue
            top = centre - per_category * 0.4 + thickness * (slot if grouped else 0)
            if min(ya.start, ya.end) > centre or centre > max(ya.start, ya.end):
                continue
            zero = xa.at(0.0)
            end = xa.pixel(value) if isinstance(value, (int, float)) else None
            if end is not None:
                rects.append(f"M{_n(min(zero, end))},{_n(top)}h{_n(abs(end - zero))}v{_n(thickness)}h{_n(-abs(end - zero))}Z")
            label = texts[i] if isinstance(texts, list) and i < len(texts) else None
            if label:
                length = abs(end - zero) if end is not None else 0
                inside = length > text_width(str(label)) + 10
                x = (end - 5) if inside else (zero + length + 5)
                out.append(f'<text x="{_n(x)}" y="{_n(top + thickness / 2 + FONT_SIZE * 0.35)}" '
                           f'text-anchor="{"end" if inside else "start"}" fill="{"#ffffff" if inside else TEXT}">'
                           f'{escape(label)}</text>')
        if rects:
            out.insert(0, f'<path d="{"".join(rects)}" fill="{_attr(colour)}"/>')
    return out


def _shape(shape: dict, xa: Axis, ya: Axis, plot: tuple[float, float, float, float]) -> str:
    left, top, right, bottom = plot

    def x(raw):
        return left + float(raw) * (right - left) if shape.get("xref") == "paper" else xa.pixel(raw)

    def y(raw):
        return bottom - float(raw) * (bottom - top) if shape.get("yref") == "paper" else ya.pixel(raw)

    x0, x1, y0, y1 = x(shape.get("x0")), x(shape.get("x1")), y(shape.get("y0")), y(shape.get("y1"))
    if None in (x0, x1, y0, y1):
        return ""
    line = shape.get("line") or {}
    if shape.get("type") == "rect":
        x0, x1 = max(min(x0, x1), left), min(max(x0, x1), right)  # a band drawn only over the plot
        y0, y1 = max(min(y0, y1), top), min(max(y0, y1), bottom)
        if x1 <= x0 or y1 <= y0:
            return ""
        stroke = f' stroke="{_attr(line["color"])}"' if line.get("width") and line.get("color") else ""
        return (f'<rect x="{_n(x0)}" y="{_n(y0)}" width="{_n(x1 - x0)}" height="{_n(y1 - y0)}" '
                f'fill="{_attr(shape.get("fillcolor", "none"))}"{stroke}/>')
    if shape.get("type") == "line":
        width = line.get("width", 2)
        return (f'<path d="M{_n(x0)},{_n(y0)}L{_n(x1)},{_n(y1)}" stroke="{_attr(line.get("color", TEXT))}" '
                f'stroke-width="{_n(width)}"{_dash(line.get("dash"), width)}/>')
    return ""


def _merged(marks: list[str]) -> list[str]:
    """Paths drawn alike one after another become one (a year of session lines, every interval
    of the aligned chart): the same picture in fewer elements and fewer bytes."""
    out: list[str] = []
    for mark in marks:
        if out and mark.startswith('<path d="M') and out[-1].startswith('<path d="M'):
            d, _, style = mark[len('<path d="'):].partition('"')
            last_d, _, last_style = out[-1][len('<path d="'):].partition('"')
            if style == last_style:
                out[-1] = f'<path d="{last_d}{d}"{style}'
                continue
        out.append(mark)
    return out


def _shapes(shapes: list[dict], xa: Axis, ya: Axis, plot) -> list[str]:
    return _merged([m for shape in shapes if (m := _shape(shape, xa, ya, plot))])


# --- legend --------------------------------------------------------------------------------

def _swatch(trace: dict, index: int, x: float, y: float) -> str:
    colour = _colour(trace, index)
    if trace.get("type") == "bar" or trace.get("fill"):
        fill = trace.get("fillcolor") or (trace.get("marker") or {}).get("color") or colour
        return f'<rect x="{_n(x)}" y="{_n(y - 6)}" width="24" height="12" fill="{_attr(fill)}"/>'
    mode = trace.get("mode") or "lines+markers"
    out = ""
    line = trace.get("line") or {}
    if "lines" in mode and line.get("width", 2):
        width = min(line.get("width", 2), 4)
        out += (f'<path d="M{_n(x)},{_n(y)}h24" stroke="{_attr(colour)}" stroke-width="{_n(width)}"'
                f'{_dash(line.get("dash"), width)}/>')
    if "markers" in mode:
        marker = trace.get("marker") or {}
        symbol = marker.get("symbol") if isinstance(marker.get("symbol"), str) else "circle"
        size = min(marker.get("size", 6) if isinstance(marker.get("size"), (int, float)) else 6, 12)
        mark = marker.get("color") if isinstance(marker.get("color"), str) else colour
        out += f'<path d="{_symbol(symbol, x + 12, y, size)}" {_marker_paint(symbol, mark, (marker.get("line") or {}).get("width"))}/>'
    return out


def _legend(entries: list[tuple[int, dict]], left: float, top: float, right: float) -> tuple[list[str], float]:
    """Entries in rows from the left, wrapping at the right edge; returns the marks and the height."""
    out, x, y = [], left, top + LEGEND_ROW / 2
    for index, trace in entries:
        name = str(trace.get("name") or "")
        width = 30 + text_width(name) + 16
        if x > left and x + width > right:
            x, y = left, y + LEGEND_ROW
        out.append(_swatch(trace, index, x, y))
        out.append(f'<text x="{_n(x + 30)}" y="{_n(y + FONT_SIZE * 0.35)}">{escape(name)}</text>')
        x += width
    return out, (y + LEGEND_ROW / 2 - top) if entries else 0


# --- the chart -----------------------------------------------------------------------------

def has_data(figure: dict) -> bool:
    """Whether any trace has a point to draw; a chart without one is said in words instead."""
    for trace in figure.get("data") or []:
        if trace.get("type") == "bar":
            if any(isinstance(v, (int, float)) for v in trace.get("x") or []):
                return True
        elif any(x is not None and y is not None for x, y in zip(trace.get("x") or [], trace.get("y") or [])):
            return True
    return False


def _wrap(text: str, width: float, lines: int = 2) -> list[str]:
    """Words in at most `lines` lines of at most `width` pixels; the last cut short with "…"."""
    out, current = [], ""
    for word in text.split():
        trial = f"{current} {word}".strip()
        if current and text_width(trial) > width:
            out.append(current)
            current = word
        else:
            current = trial
    out.append(current)
    if len(out) > lines:
        out = out[:lines]
        out[-1] = out[-1] + "…"
    return out


def render(figure: dict, *, width: int, uid: str, label: str, description: str = "",
           css_class: str = "chart-svg", empty: str = "") -> Markup:
    """The figure as an inline <svg> `width` units wide (it scales to its box), or, when there
    is nothing to draw, a sentence (`empty`: what will fill the chart; EMPTY by default). `uid`
    keeps the clip path's id unique on the page."""
    if not has_data(figure):
        return Markup('<p class="chart-empty">{}</p>').format(empty or EMPTY)
    layout = figure.get("layout") or {}
    traces = [t for t in figure.get("data") or [] if t.get("type", "scatter") in ("scatter", "bar")]
    margin = {"l": 80, "r": 80, "t": 100, "b": 80, **(layout.get("margin") or {})}
    height = float(layout.get("height") or 450)
    xspec, yspec = layout.get("xaxis") or {}, layout.get("yaxis") or {}
    xs = [v for t in traces for v in (t.get("x") or [])]
    ys = [v for t in traces for v in (t.get("y") or [])]
    left = float(margin["l"])
    wrap_at = width * 0.4
    if _kind(yspec, ys) == "category":  # room for the category names, wrapped on a narrow chart
        names = _categories(yspec, ys)
        left = min(max(left, max((text_width(line) for n in names for line in _wrap(n, wrap_at)), default=0) + 14),
                   wrap_at + 14)
    elif _title(yspec):
        left = max(left, FONT_SIZE * 1.4 + 6 + text_width("21") + 6)
    right, top = width - float(margin["r"]), float(margin["t"])
    bottom = height - float(margin["b"])
    markers = any("markers" in (t.get("mode") or "") for t in traces)
    bars = [(i, t) for i, t in enumerate(traces) if t.get("type") == "bar"]
    xa = _axis(xspec, xs, left, right, horizontal=True, pad=markers, bars=bool(bars))
    ya = _axis(yspec, ys, bottom, top, horizontal=False, pad=markers and not bars, bars=False)
    plot = (left, top, right, bottom)
    clip = f"{uid}-clip"
    body = []
    shapes = layout.get("shapes") or []
    below = [s for s in shapes if s.get("layer") == "below"]
    above = [s for s in shapes if s.get("layer") != "below"]
    body += _shapes(below, xa, ya, plot)
    # Grid lines only where the figure colours them: plotly's default template draws them white.
    if xspec.get("gridcolor") and xspec.get("showgrid", True) and xa.kind != "category":
        grid = "".join(f"M{_n(xa.at(v))},{_n(top)}V{_n(bottom)}" for v, _ in xa.ticks)
        body.append(f'<path d="{grid}" stroke="{_attr(xspec["gridcolor"])}" stroke-width="1"/>')
    if yspec.get("gridcolor") and yspec.get("showgrid", True) and ya.kind != "category":
        grid = "".join(f"M{_n(left)},{_n(ya.at(v))}H{_n(right)}" for v, _ in ya.ticks)
        body.append(f'<path d="{grid}" stroke="{_attr(yspec["gridcolor"])}" stroke-width="1"/>')
    marks = []
    previous = None
    for index, trace in enumerate(traces):
        if trace.get("type") == "scatter" or "type" not in trace:
            marks += [m for m in _scatter(trace, index, xa, ya, previous) if m]
        previous = trace
    marks += _bars(bars, xa, ya, layout.get("barmode") == "group")
    marks += _shapes(above, xa, ya, plot)
    body.append(f'<g clip-path="url(#{_attr(clip)})">{"".join(_merged(marks))}</g>')
    # Tick labels and titles.
    axis_text = []
    for v, text in xa.ticks:
        half = text_width(text) / 2 + 2
        x = min(max(xa.at(v), half), width - half)  # a label at either end kept inside the picture
        axis_text.append(f'<text x="{_n(x)}" y="{_n(bottom + FONT_SIZE + 5)}" text-anchor="middle">{escape(text)}</text>')
    for v, text in ya.ticks:
        lines = _wrap(text, wrap_at) if ya.kind == "category" else [text]
        first = ya.at(v) + FONT_SIZE * 0.35 - (len(lines) - 1) * FONT_SIZE * 0.6
        axis_text.append(f'<text x="{_n(left - 6)}" y="{_n(first)}" text-anchor="end">' + "".join(
            f'<tspan x="{_n(left - 6)}" dy="{0 if i == 0 else _n(FONT_SIZE * 1.2)}">{escape(line)}</tspan>'
            if len(lines) > 1 else escape(line) for i, line in enumerate(lines)) + "</text>")
    below_axis = bottom + FONT_SIZE + 10
    if title := _title(xspec):
        axis_text.append(f'<text x="{_n((left + right) / 2)}" y="{_n(below_axis + FONT_SIZE + 4)}" '
                         f'text-anchor="middle">{escape(title)}</text>')
        below_axis += FONT_SIZE + 10
    if title := _title(yspec):
        middle = (top + bottom) / 2
        axis_text.append(f'<text x="{FONT_SIZE}" y="{_n(middle)}" text-anchor="middle" '
                         f'transform="rotate(-90 {FONT_SIZE} {_n(middle)})">{escape(title)}</text>')
    entries = [(i, t) for i, t in enumerate(traces) if t.get("showlegend", True) is not False and t.get("name")]
    legend, legend_height = ([], 0.0)
    if layout.get("showlegend", len(traces) > 1) and entries:
        legend, legend_height = _legend(entries, left, below_axis + 4, width - 4)
    total_height = max(height, below_axis + 4 + legend_height + 6)
    font = layout.get("font") or {}
    picture = (
        f'<svg class="{_attr(css_class)}" viewBox="0 0 {width} {_n(total_height)}" width="{width}" '
        f'height="{_n(total_height)}" role="img" aria-label="{_attr(label)}" focusable="false" '
        f'font-family="{_attr(font.get("family", "system-ui, sans-serif"))}" font-size="{FONT_SIZE}" fill="{TEXT}">'
        f"<title>{escape(label)}</title>" + (f"<desc>{escape(description)}</desc>" if description else "")
        + f'<defs><clipPath id="{_attr(clip)}"><rect x="{_n(left)}" y="{_n(top)}" width="{_n(right - left)}" '
        f'height="{_n(bottom - top)}"/></clipPath></defs>'
        + "".join(body) + "".join(axis_text) + "".join(legend) + "</svg>"
    )
    # Reviewed for bandit B704: every text and colour above is escaped; the rest are numbers made here.
    return Markup(picture)  # nosec B704


# The two drawings of a chart on a page: one for phones, one for wider screens (CSS shows one).
# A single drawing scaled from 720 to a phone's 320 px would shrink its text to 6 px.
NARROW, WIDE = 340, 720


@dataclass(frozen=True)
class StaticChart:
    markup: Markup
    empty: bool


def for_page(figure: dict, chart_id: str, label: str, summary: str,
             widths: tuple[int, ...] = (NARROW, WIDE), empty: str = "") -> StaticChart:
    """Each width's drawing of a figure for the chart with id `chart_id`, or the empty sentence."""
    if not has_data(figure):
        return StaticChart(render(figure, width=widths[0], uid=chart_id, label=label, empty=empty), True)
    sizes = ["narrow", "wide"] if len(widths) == 2 else [""] * len(widths)
    return StaticChart(Markup("").join(
        render(figure, width=w, uid=f"{chart_id}-{w}", label=label, description=summary,
               css_class=f"chart-svg {size}".strip()) for w, size in zip(widths, sizes)), False)
