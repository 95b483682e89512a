"""A small trend line for the triage dashboard: inline SVG drawn on the server.

One per row would be far too heavy as a Plotly figure, and the dashboard must work without
JavaScript, so this is a polyline in a fixed viewBox: x is the day (0 = the first of the
window, DAYS - 1 = its last), y is the daily total flipped so that a higher total is drawn
higher (y = 21 - total). A day without a check-in breaks the line; a check-in with no
neighbour is drawn as a dot. Pure: totals in, markup out; no Flask, no SQL."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, timedelta

from markupsafe import Markup, escape

from .instruments import TOTAL_MAX

DAYS = 30
WIDTH, HEIGHT = 120, 32  # CSS pixels; the viewBox is stretched to fit (preserveAspectRatio="none")

Point = tuple[int, int]


def segments(totals: Mapping[date, int], end: date, days: int = DAYS) -> list[list[Point]]:
    """The check-ins of the `days` days ending on `end`, as runs of consecutive days.

    Each point is (x, y) in viewBox units: x = 0 for the window's first day, y = TOTAL_MAX - total."""
    runs: list[list[Point]] = []
    in_run = False
    for x in range(days):
        total = totals.get(end - timedelta(days=days - 1 - x))
        if total is None:
            in_run = False
            continue
        if not in_run:
            runs.append([])
            in_run = True
        runs[-1].append((x, TOTAL_MAX - total))
    return runs


def describe(totals: Mapping[date, int], end: date, days: int = DAYS) -> str:
    """The words a screen reader (and a hovering mouse) gets instead of the picture."""
    values = [totals[d] for n in range(days - 1, -1, -1) if (d := end - timedelta(days=n)) in totals]
    label = f"Trend of the last {days} days"
    if not values:
        return f"{label}: no check-ins"
    if len(values) == 1:
        return f"{label}: one check-in, {values[0]}"
    return f"{label}: from {values[0]} to {values[-1]} ({len(values)} check-ins)"


def _points(run: list[Point]) -> str:
    if len(run) == 1:  # a zero-length line with round caps is drawn as a dot
        run = run * 2
    return " ".join(f"{x},{y}" for x, y in run)


def svg(totals: Mapping[date, int], end: date, *, days: int = DAYS, treatments: Iterable[date] = ()) -> Markup:
    """The trend of the `days` days ending on `end` as an inline <svg>.

    `sessions` (local dates) are marked with faint vertical lines, so a drop after a session
    can be read at a glance."""
    label = escape(describe(totals, end, days))
    parts = [
        f'<svg class="sparkline" viewBox="0 0 {days - 1} {TOTAL_MAX}" preserveAspectRatio="none" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{label}" focusable="false">',
        f"<title>{label}</title>",
    ]
    start = end - timedelta(days=days - 1)
    for x in sorted({(d - start).days for d in treatments if start <= d <= end}):
        parts.append(f'<line class="sparkline-session" x1="{x}" y1="0" x2="{x}" y2="{TOTAL_MAX}" '
                     'stroke="#8a939e" stroke-width="1" stroke-dasharray="2 2" vector-effect="non-scaling-stroke"/>')
    for run in segments(totals, end, days):
        parts.append(f'<polyline points="{_points(run)}" fill="none" stroke="currentColor" stroke-width="2" '
                     'stroke-linecap="round" stroke-linejoin="round" vector-effect="non-scaling-stroke"/>')
    parts.append("</svg>")
    # Reviewed for bandit B704: the only text is the escaped label; the rest is numbers computed here.
    return Markup("".join(parts))  # nosec B704
