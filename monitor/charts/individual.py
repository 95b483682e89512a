"""One patient's charts: daily totals against sessions, every interval aligned on its session
day, side effects over time, and the patient's own trend for their phone.

Inputs are plain data (analysis.PatientData and durability results); outputs are plotly
figures plus the sentence and table rows that say the same thing in words."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import mean

from ..durability import WANED, PatientAnalysis, TreatmentResult
from ..instruments import ROUTE_LABELS, SIDE_EFFECTS, band_for, gad7_severity
from . import ALERT, LINE, MUTED, band_shapes, base_layout, date_axis, new_figure, scatter
from ..wording import plural

TREATMENT_COLOUR = "#5b3fa6"
STANDARD_COLOUR = "#1b1f24"  # the standard GAD-7's diamonds: dark on every band's shade
STANDARD_NAME = "Standard GAD-7 (2 weeks)"


def _fmt(x: float | None) -> str:
    if x is None:
        return "–"
    return f"{x:.1f}".rstrip("0").rstrip(".")


def treatment_label(treatment) -> str:
    dose = f"{treatment.dose_mg:f}".rstrip("0").rstrip(".")
    return f"{ROUTE_LABELS.get(treatment.route, treatment.route)}, {dose} mg"


@dataclass
class Chart:
    figure: dict  # plotly's JSON (monitor/charts/__init__.py)
    summary: str


def _treatment_lines(days: list[date]) -> list[dict]:
    # All session lines go into the layout in one list: adding shapes one at a time with
    # add_vline re-validates the figure each time (378 ms against 10 ms for a year of sessions).
    return [dict(type="line", xref="x", yref="paper", x0=d, x1=d, y0=0, y1=1,
                 line=dict(color=TREATMENT_COLOUR, width=1.5, dash="dot")) for d in days]


def timeline(data, treatments_by_date: dict, start: date | None = None,
             standard: list[tuple[date, int]] = ()) -> Chart:
    """Daily totals over time with the severity bands shaded, every session marked (route and
    dose on hover), each session's baseline, nadir and wane day, and each standard GAD-7
    (`standard`: (local date, total) pairs) as a diamond of its own, apart from the daily line."""
    analysis: PatientAnalysis = data.analysis
    days = sorted(d for d in data.totals if start is None or d >= start)
    standard = [(d, total) for d, total in standard if start is None or d >= start]
    first = min(days[:1] + [d for d, _ in standard[:1]]) if days or standard else (start or data.today)
    x0, x1 = first - timedelta(days=1), data.today + timedelta(days=1)
    totals_x, totals_y = _with_gaps(days, data.totals)
    traces = [scatter(x=totals_x, y=totals_y, mode="lines+markers", name="Daily total",
                      line=dict(color=LINE, width=2), marker=dict(size=5), connectgaps=False,
                      hovertemplate="%{x|%a %-d %b %Y}: %{y}<extra></extra>")]
    shown = [s for s in analysis.treatments if start is None or s.treatment_date >= start]
    planned = [d for d in treatments_by_date if d > data.today and (start is None or d >= start)]
    all_days = [s.treatment_date for s in shown] + planned
    if all_days:
        traces.append(scatter(
            x=all_days, y=[21.6] * len(all_days), mode="markers", name="Treatment session",
            marker=dict(symbol="triangle-down", size=11, color=TREATMENT_COLOUR),
            text=[treatment_label(treatments_by_date[d]) + (" (planned)" if d > data.today else "")
                  for d in all_days],
            hovertemplate="%{x|%a %-d %b %Y}<br>%{text}<extra>Session</extra>"))
    base_x, base_y = [], []
    for s in shown:
        if s.baseline is not None:
            base_x += [s.day(-3), s.day(-1), None]
            base_y += [s.baseline, s.baseline, None]
    if base_x:
        traces.append(scatter(x=base_x, y=base_y, mode="lines", name="Session baseline",
                              line=dict(color=MUTED, width=3), hovertemplate="Baseline %{y:.1f}<extra></extra>"))
    nadirs = [s for s in shown if s.nadir_day is not None]
    if nadirs:
        traces.append(scatter(x=[s.day(s.nadir_day) for s in nadirs], y=[s.nadir for s in nadirs],
                              mode="markers", name="Nadir",
                              marker=dict(symbol="circle-open", size=13, color="#1f7a3a", line=dict(width=2)),
                              hovertemplate="Nadir %{y} on %{x|%-d %b}<extra></extra>"))
    waned = [s for s in shown if s.status == WANED]
    if waned:
        traces.append(scatter(x=[s.wane_date for s in waned], y=[data.totals[s.wane_date] for s in waned],
                              mode="markers", name="Wane day",
                              marker=dict(symbol="x", size=12, color=ALERT),
                              text=[f"day {s.wane_day}" for s in waned],
                              hovertemplate="Waned on %{x|%-d %b} (%{text})<extra></extra>"))
    if standard:
        traces.append(scatter(x=[d for d, _ in standard], y=[total for _, total in standard], mode="markers",
                              name=STANDARD_NAME,
                              marker=dict(symbol="diamond", size=12, color=STANDARD_COLOUR),
                              hovertemplate="Standard GAD-7 %{x|%a %-d %b %Y}: %{y}<extra></extra>"))
    figure = new_figure(traces, base_layout(
        shapes=band_shapes(x0, x1) + _treatment_lines(all_days),
        xaxis=date_axis(x0, x1),
        yaxis=dict(range=[-0.5, 22.2], title=dict(text="Daily total (0–21)"), fixedrange=True, dtick=3, gridcolor="#eef0f3"),
    ))
    return Chart(figure, timeline_summary(data, shown, days, standard))


def _with_gaps(days: list[date], totals: dict[date, int]) -> tuple[list, list]:
    """Points with a None between non-consecutive days, so a missed day breaks the line."""
    xs, ys = [], []
    for i, d in enumerate(days):
        if i and (d - days[i - 1]).days > 1:
            xs.append(None)
            ys.append(None)
        xs.append(d)
        ys.append(totals[d])
    return xs, ys


def timeline_summary(data, shown: list[TreatmentResult], days: list[date],
                     standard: list[tuple[date, int]] = ()) -> str:
    if not days:
        return "No check-ins yet." + (_standard_sentence(standard) if standard else "")
    latest_day = days[-1]
    latest = data.totals[latest_day]
    parts = [f"{plural(len(days), 'check-in')} from {days[0]:%-d %b %Y} to {latest_day:%-d %b %Y}; "
             f"the latest total is {latest} ({band_for(latest).label.lower()})"]
    parts.append(f"{plural(len(shown), 'session')} in this period")
    median = data.analysis.median_duration
    if median is not None:
        parts.append(f"the benefit typically lasts about {_fmt(median)} {plural(median, 'day', number=False)} "
                     f"({plural(data.analysis.responding_treatments, 'responding session')})")
    else:
        parts.append("the typical duration of benefit is not known yet")
    return "; ".join(parts) + "." + (_standard_sentence(standard) if standard else "")


def _standard_sentence(standard: list[tuple[date, int]]) -> str:
    day, total = standard[-1]
    count = len(standard)
    return (f" {plural(count, 'standard GAD-7')} (diamonds); the latest, on {day:%-d %b %Y}, "
            f"scored {total} ({gad7_severity(total).label.lower()}).")


@dataclass
class AlignedRow:
    day: int
    mean: float | None
    n: int


def aligned(data, days_after: int = 14) -> tuple[Chart, list[AlignedRow]]:
    """Every interval on one axis of days since its session, the patient's typical path (the
    mean by day) and the latest responding session's wane threshold."""
    treatments = data.analysis.treatments
    traces = []
    by_day: dict[int, list[int]] = defaultdict(list)
    for s in treatments:
        last = min((s.interval_end - s.treatment_date).days, days_after)
        xs = [d for d in range(-3, last + 1) if s.day(d) in data.totals]
        ys = [data.totals[s.day(d)] for d in xs]
        for d, y in zip(xs, ys):
            by_day[d].append(y)
        traces.append(scatter(
            x=xs, y=ys, mode="lines", name=f"{s.treatment_date:%-d %b}", showlegend=False,
            line=dict(color="rgba(91,63,166,0.25)", width=1),
            hovertemplate=f"Session {s.treatment_date:%-d %b %Y}, day %{{x}}: %{{y}}<extra></extra>"))
    rows = [AlignedRow(d, mean(by_day[d]) if by_day[d] else None, len(by_day[d])) for d in range(-3, days_after + 1)]
    typical = [r for r in rows if r.mean is not None]
    traces.append(scatter(x=[r.day for r in typical], y=[r.mean for r in typical], mode="lines+markers",
                          name="Typical path (mean)", line=dict(color=LINE, width=3),
                          hovertemplate="Day %{x}: mean %{y:.1f}<extra></extra>"))
    responding = [s for s in treatments if s.threshold is not None]
    shapes = [dict(type="line", xref="x", yref="paper", x0=0, x1=0, y0=0, y1=1,
                   line=dict(color=TREATMENT_COLOUR, width=1.5, dash="dot"))]
    threshold = responding[-1].threshold if responding else None
    if threshold is not None:
        shapes.append(dict(type="line", xref="paper", yref="y", x0=0, x1=1, y0=threshold, y1=threshold,
                           line=dict(color=ALERT, width=2, dash="dash")))
        traces.append(scatter(x=[days_after], y=[threshold], mode="text", text=[f"wane threshold {_fmt(threshold)}"],
                              textposition="top left", showlegend=False, hoverinfo="skip",
                              textfont=dict(color=ALERT)))
    figure = new_figure(traces, base_layout(
        shapes=band_shapes(-3.5, days_after + 0.5) + shapes,
        xaxis=dict(range=[-3.5, days_after + 0.5], title=dict(text="Days since session"), dtick=1, fixedrange=True),
        yaxis=dict(range=[-0.5, 21.5], title=dict(text="Daily total (0–21)"), fixedrange=True, dtick=3, gridcolor="#eef0f3"),
    ))
    return Chart(figure, aligned_summary(rows, len(treatments), threshold, data.analysis.median_duration)), rows


def aligned_summary(rows: list[AlignedRow], treatments: int, threshold: float | None, median: float | None) -> str:
    before = [r.mean for r in rows if r.day < 0 and r.mean is not None]
    after = [r for r in rows if r.day > 0 and r.mean is not None]
    if not treatments or not before or not after:
        return "Not enough check-ins around sessions to show a typical path yet."
    low = min(after, key=lambda r: r.mean)
    text = (f"Across {plural(treatments, 'session')} the total averages {_fmt(mean(before))} in the 3 days before a session "
            f"and falls to {_fmt(low.mean)} on day {low.day}")
    if threshold is not None:
        text += f"; the latest responding session counts as waned at {_fmt(threshold)} or more"
    if median is not None:
        text += f", which typically happens about day {_fmt(median)}"
    return text + "."


@dataclass
class SideEffectRow:
    day: date
    label: str
    severity: int


SEVERITY = {1: "mild", 2: "moderate", 3: "severe"}


def side_effects(checkins, start: date | None = None, end: date | None = None) -> tuple[Chart, list[SideEffectRow]]:
    """Each reported side effect as a marker on its own row, larger and darker when worse; over
    [start, end] when given (the days asked about, not just those with a report)."""
    rows = [SideEffectRow(c.local_date, label, getattr(c, f"se_{key}"))
            for c in checkins if start is None or c.local_date >= start
            for key, label in SIDE_EFFECTS if getattr(c, f"se_{key}")]
    labels = [label for _, label in SIDE_EFFECTS]
    traces = []
    for level, colour in ((1, "#f2c14e"), (2, "#e07b24"), (3, ALERT)):
        pts = [r for r in rows if r.severity == level]
        traces.append(scatter(x=[r.day for r in pts], y=[r.label for r in pts], mode="markers",
                              name=SEVERITY[level].capitalize(),
                              marker=dict(size=6 + 3 * level, color=colour, symbol="square"),
                              hovertemplate="%{x|%-d %b %Y}: %{y}<extra>" + SEVERITY[level] + "</extra>"))
    figure = new_figure(traces, base_layout(
        height=300, margin=dict(l=230, r=12, t=12, b=40),
        yaxis=dict(categoryorder="array", categoryarray=labels[::-1], type="category", fixedrange=True,
                   range=[-0.5, len(labels) - 0.5]),
        xaxis=(date_axis(start - timedelta(days=1), end + timedelta(days=1), showgrid=True)
               if start is not None and end is not None else dict(type="date", fixedrange=True)),
    ))
    severe = [r for r in rows if r.severity == 3]
    if not rows:
        summary = "No side effects reported in this period."
    else:
        summary = f"{len(rows)} side-effect reports in this period, {len(severe)} severe"
        if severe:
            summary += f" (most recent: {severe[-1].label.lower()} on {severe[-1].day:%-d %b %Y})"
        summary += "."
    return Chart(figure, summary), rows


def own_trend(totals: dict[date, int], treatment_days: list[date], today: date, days: int) -> Chart:
    """The patient's own last `days` days with sessions marked, for a 360 px screen."""
    start = today - timedelta(days=days - 1)
    shown = sorted(d for d in totals if d >= start)
    xs, ys = _with_gaps(shown, totals)
    treatments = [d for d in treatment_days if start <= d <= today]
    traces = [scatter(x=xs, y=ys, mode="lines+markers", name="Your daily total", line=dict(color=LINE, width=2),
                      marker=dict(size=6), hovertemplate="%{x|%a %-d %b}: %{y}<extra></extra>")]
    if treatments:
        traces.append(scatter(x=treatments, y=[21.6] * len(treatments), mode="markers", name="Treatment session",
                              marker=dict(symbol="triangle-down", size=11, color=TREATMENT_COLOUR),
                              hovertemplate="Session %{x|%a %-d %b}<extra></extra>"))
    x0, x1 = start - timedelta(hours=12), today + timedelta(hours=12)
    figure = new_figure(traces, base_layout(
        height=280, margin=dict(l=32, r=8, t=8, b=36),
        shapes=band_shapes(x0, x1) + _treatment_lines(treatments),
        xaxis=dict(range=[x0, x1], type="date", fixedrange=True, nticks=5),
        yaxis=dict(range=[-0.5, 22.2], fixedrange=True, dtick=7),
        legend=dict(orientation="h", y=-0.25),
    ))
    if shown:
        first, last = totals[shown[0]], totals[shown[-1]]
        summary = (f"Over the last {plural(days, 'day')} you checked in on {plural(len(shown), 'day')}; your total "
                   f"went from {first} to {last}, with {plural(len(treatments), 'treatment session')}.")
    else:
        summary = f"No check-ins in the last {plural(days, 'day')} yet."
    return Chart(figure, summary)
