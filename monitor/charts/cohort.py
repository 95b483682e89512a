"""Figures of the durability report (SPEC 8): data in, plotly figure out; no queries, no Flask.

Each chart comes with a one-sentence summary (shown above it and read by screen readers) and
the same numbers as a table (monitor/templates/provider/report.html puts it in a
<details class="data-table">), so nothing is only in the picture."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ..durability import DayChange, survival_at
from . import ALERT, LINE, MUTED, bar, base_layout, new_figure, scatter, to_json
from ..wording import plural

BAND = "rgba(11, 92, 173, 0.18)"  # LINE, translucent
# Axis labels that fit beside a bar on a phone; the tables and hover text use the full wording.
SHORT_SIDE_EFFECTS = {"dissociation": "Dissociation", "dizziness": "Dizziness", "nausea": "Nausea",
                      "headache": "Headache", "drowsiness": "Drowsiness", "bladder": "Bladder/urinary",
                      "vision": "Blurred vision"}
SEVERE = ALERT


@dataclass(frozen=True)
class Bar:
    """One bar: a share (0..1, None when there is nothing to divide by) and its count text."""

    label: str
    value: float | None
    detail: str  # "5 of 8 sessions"
    short: str = ""  # the axis label, short enough for a phone; the label when empty
    phrase: str = ""  # for the summary sentence, "{} of sessions responded"; "label: {}" when empty

    @property
    def axis_label(self) -> str:
        return self.short or self.label


@dataclass(frozen=True)
class Table:
    caption: str
    headers: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    figure: dict  # plotly's JSON (monitor/charts/__init__.py)
    summary: str
    label: str
    table: Table

    @property
    def json(self) -> str:
        return to_json(self.figure)


def percent(value: float | None) -> str:
    return "–" if value is None else f"{round(value * 100)}%"


def days_text(value: float | None) -> str:
    if value is None:
        return "not yet known"
    return plural(value, "day")


# --- Kaplan-Meier "still holding" ------------------------------------------------------------

def survival_figure(curve: Sequence[tuple[int, float]], median: float | None,
                    censored: Sequence[int] = ()) -> dict:
    """The step curve of the share of responding sessions still holding by day since session,
    with censoring marks and the median marked where the curve reaches 50%."""
    xs = [t for t, _ in curve]
    ys = [s * 100 for _, s in curve]
    last = max([*xs, *censored]) if (xs or censored) else 0
    if xs and last > xs[-1]:  # carry the last level out to the last follow-up
        xs.append(last)
        ys.append(ys[-1])
    traces = [scatter(
        x=xs, y=ys, name="Still holding", mode="lines", line=dict(color=LINE, width=2.5, shape="hv"),
        hovertemplate="Day %{x}: %{y:.0f}% still holding<extra></extra>",
    )]
    if censored:
        traces.append(scatter(
            x=list(censored), y=[survival_at(curve, t) * 100 for t in censored], name="Still holding when last seen",
            mode="markers", marker=dict(symbol="line-ns-open", size=12, color=MUTED),
            hovertemplate="Day %{x}: still holding when last seen<extra></extra>",
        ))
    shapes = [dict(type="line", xref="paper", x0=0, x1=1, y0=50, y1=50,
                   line=dict(color=MUTED, width=1, dash="dot"))]
    if median is not None:
        traces.append(scatter(
            x=[median], y=[50], name=f"Median: {days_text(median)}", mode="markers",
            marker=dict(symbol="diamond", size=12, color=ALERT),
            hovertemplate="Median %{x} days<extra></extra>",
        ))
        shapes.append(dict(type="line", x0=median, x1=median, y0=0, y1=50,
                           line=dict(color=ALERT, width=1.5, dash="dash")))
    return new_figure(traces, base_layout(
        shapes=shapes,
        xaxis=dict(title=dict(text="Days since session"), fixedrange=True, showgrid=False, rangemode="tozero",
                   dtick=1 if last <= 10 else 2 if last <= 21 else 7),
        yaxis=dict(title=dict(text="Still holding (%)"), range=[0, 105], fixedrange=True, gridcolor="#eef0f3"),
    ))


def survival_chart(curve, median, censored, treatments: int, events: int) -> Chart:
    if treatments == 0:
        summary = "No responding sessions yet, so there is no curve of how long the benefit holds."
    elif median is None:
        summary = (f"Of {plural(treatments, 'responding session')}, {events} {'has' if events == 1 else 'have'} waned; "
                   "more than half still hold, so the median benefit duration is not yet known.")
    else:
        summary = (f"The benefit of a responding session typically lasts about {days_text(median)} "
                   f"(Kaplan-Meier median over {plural(treatments, 'responding session')}, {events} waned).")
    rows = [[str(t), percent(s)] for t, s in curve]
    figure = survival_figure(curve, median, censored) if treatments else survival_figure((), None)
    return Chart("survival", "How long the benefit holds", figure, summary,
                 "Step chart: share of responding sessions still holding by day since session",
                 Table("Still holding by day (Kaplan-Meier), at each day a session waned",
                       ["Day since session", "Still holding"], rows))


# --- Mean change from the reference level --------------------------------------------------------

def change_figure(change_by_day: Sequence[DayChange]) -> dict:
    """Mean total minus the reference level R by day since session, with its 95% confidence
    band (lower edge, then the upper edge filled down to it) and a zero line."""
    days = [c.day for c in change_by_day]
    traces = [
        scatter(x=days, y=[c.ci_low for c in change_by_day], name="95% CI (lower)", mode="lines",
                line=dict(width=0, color=BAND), showlegend=False, hoverinfo="skip"),
        scatter(x=days, y=[c.ci_high for c in change_by_day], name="95% confidence interval", mode="lines",
                line=dict(width=0, color=BAND), fill="tonexty", fillcolor=BAND, hoverinfo="skip"),
        scatter(x=days, y=[c.mean for c in change_by_day], name="Mean change from reference", mode="lines+markers",
                line=dict(color=LINE, width=2.5), marker=dict(size=6),
                customdata=[c.n for c in change_by_day],
                hovertemplate="Day %{x}: %{y:.1f} points (n=%{customdata})<extra></extra>"),
    ]
    return new_figure(traces, base_layout(
        shapes=[
            dict(type="line", xref="paper", x0=0, x1=1, y0=0, y1=0, line=dict(color=MUTED, width=1.5)),
            dict(type="line", yref="paper", x0=0, x1=0, y0=0, y1=1, line=dict(color=MUTED, width=1, dash="dot")),
        ],
        # (no range without days: plotly then picks its own)
        xaxis=dict(title=dict(text="Days since session"), fixedrange=True, showgrid=False,
                   **(dict(range=[days[0] - 0.5, days[-1] + 0.5]) if days else {})),
        yaxis=dict(title=dict(text="Change (points)"), fixedrange=True, gridcolor="#eef0f3",
                   zeroline=False),
    ))


def change_chart(change_by_day: Sequence[DayChange]) -> Chart:
    measured = [c for c in change_by_day if c.mean is not None and c.day >= 1]
    if not measured:
        summary = "No check-ins after a session with a reference level yet, so there is no change to show."
    else:
        low = min(measured, key=lambda c: c.mean)
        summary = (f"The mean daily total falls furthest below the reference level on day {low.day} "
                   f"({low.mean:+.1f} points over {plural(low.n, 'check-in')}); 0 is no change.")
    rows = [[str(c.day), str(c.n), _signed(c.mean), _signed(c.ci_low), _signed(c.ci_high)] for c in change_by_day]
    return Chart("change", "Change from the reference level by day", change_figure(change_by_day), summary,
                 "Line chart with a shaded band: mean change in daily total from the reference level, by day",
                 Table("Mean change from the reference level R by day since session",
                       ["Day", "Check-ins", "Mean change", "95% CI low", "95% CI high"], rows))


def _signed(value: float | None) -> str:
    return "–" if value is None else f"{value:+.1f}"


# --- Shares as bars -----------------------------------------------------------------------

def shares_figure(bars: Sequence[Bar]) -> dict:
    """Horizontal bars (long labels fit a phone), 0-100%, each labelled with its percentage."""
    shares = bar(
        x=[None if b.value is None else b.value * 100 for b in bars], y=[b.axis_label for b in bars],
        orientation="h", name="Share", marker=dict(color=LINE),
        text=[percent(b.value) for b in bars], textposition="auto",
        customdata=[f"{b.label}: {percent(b.value)} ({b.detail})" for b in bars],
        hovertemplate="%{customdata}<extra></extra>",
    )
    return new_figure([shares], base_layout(
        showlegend=False, height=60 + 48 * max(len(bars), 1), margin=dict(l=12, r=12, t=12, b=40),
        xaxis=dict(title=dict(text="%"), range=[0, 100], fixedrange=True, gridcolor="#eef0f3"),
        yaxis=dict(autorange="reversed", automargin=True, fixedrange=True),
    ))


def _sentence(parts: list[str]) -> str:
    text = parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]
    return text[:1].upper() + text[1:] + "."


def shares_chart(bars: Sequence[Bar]) -> Chart:
    known = [b for b in bars if b.value is not None]
    summary = (_sentence([(b.phrase or f"{b.label}: {{}}").format(percent(b.value)) for b in known])
               if known else "There is not enough data for any of these shares yet.")
    return Chart("outcomes", "Outcomes and adherence", shares_figure(bars), summary,
                 "Bar chart: response, waning, improvement and adherence shares",
                 Table("Outcome shares", ["Measure", "Share", "Count"],
                       [[b.label, percent(b.value), b.detail] for b in bars]))


def side_effects_figure(labels: Sequence[str], any_level: Sequence[float | None],
                        severe: Sequence[float | None]) -> dict:
    def pct(values):
        return [None if v is None else v * 100 for v in values]

    return new_figure([
        bar(x=pct(any_level), y=list(labels), orientation="h", name="Any level", marker=dict(color=LINE),
            hovertemplate="%{y}: %{x:.0f}% of check-ins<extra>any level</extra>"),
        bar(x=pct(severe), y=list(labels), orientation="h", name="Severe", marker=dict(color=SEVERE),
            hovertemplate="%{y}: %{x:.0f}% of check-ins<extra>severe</extra>"),
    ], base_layout(
        barmode="group", height=100 + 44 * max(len(labels), 1), margin=dict(l=12, r=12, t=12, b=40),
        xaxis=dict(title=dict(text="% of check-ins"), rangemode="tozero", fixedrange=True, gridcolor="#eef0f3"),
        yaxis=dict(autorange="reversed", automargin=True, fixedrange=True),
    ))


def side_effects_chart(rates, checkins: int, days: int) -> Chart:
    """rates: monitor.report.SideEffectRate items."""
    labels = [SHORT_SIDE_EFFECTS.get(r.key, r.label) for r in rates]
    figure = side_effects_figure(labels, [r.any_level.value for r in rates], [r.severe.value for r in rates])
    if not checkins:
        summary = f"No check-ins in the last {plural(days, 'day')}, so there are no side-effect rates."
    else:
        top = max(rates, key=lambda r: (r.any_level.count, r.severe.count))
        severe = sum(r.severe.count for r in rates)
        summary = (f"Over {plural(checkins, 'check-in')} in the last {plural(days, 'day')}, the most often reported side effect "
                   f"was {top.label.lower()} ({percent(top.any_level.value)}); "
                   f"{plural(severe, 'severe report')} in all.")
        if top.any_level.count == 0:
            summary = f"None of the {plural(checkins, 'check-in')} in the last {plural(days, 'day')} reported a side effect."
    rows = [[r.label, percent(r.any_level.value), str(r.any_level.count), percent(r.severe.value), str(r.severe.count)]
            for r in rates]
    return Chart("side-effects", "Side effects", figure, summary,
                 "Grouped bar chart: share of check-ins reporting each side effect, any level and severe",
                 Table(f"Side effects in check-ins of the last {plural(days, 'day')} ({plural(checkins, 'check-in')})",
                       ["Side effect", "Any level", "Check-ins", "Severe", "Check-ins"], rows))


# --- The report page's charts, in order ------------------------------------------------------

def outcome_bars(report) -> list[Bar]:
    """report: a monitor.report.Report."""
    three = report.three_treatments
    waned = report.waned_by_7_count
    bars = [
        Bar("Sessions that responded", report.response.value,
            f"{report.response.count} of {plural(report.response.of, 'session')} with a definite response",
            "Responded", "{} of sessions with a definite response responded"),
        Bar("Responding sessions waned by day 7 (Kaplan-Meier)", report.waned_by_7_km,
            f"estimate over {plural(report.at_risk, 'responding session')}",
            "Waned by day 7 (KM)", "{} of responding sessions had waned by day 7 (Kaplan-Meier)"),
        Bar("Responding sessions waned by day 7 (simple count)", waned.value,
            f"{waned.count} of {plural(waned.of, 'responding session')}", "Waned by day 7 (count)",
            "{} by simple count"),
        Bar("Improved with three treatments", three.share.value, f"{three.improved} of {plural(three.evaluated, 'patient')}",
            "Improved after 3", "{} of patients improved with three treatments"),
    ]
    for a in report.adherence:
        bars.append(Bar(f"Check-in adherence, last {plural(a.days, 'day')}", a.mean,
                        f"mean over {plural(a.patients, 'active patient')}",
                        f"Adherence {a.days} d", f"check-ins were logged on {{}} of the last {plural(a.days, 'day')}"))
    return bars


def report_charts(report, side_effect_days: int) -> list[Chart]:
    return [
        survival_chart(report.cohort.curve, report.cohort.median_duration, report.censored,
                       report.at_risk, report.events),
        change_chart(report.cohort.change_by_day),
        shares_chart(outcome_bars(report)),
        side_effects_chart(report.side_effects, report.side_effect_checkins, side_effect_days),
    ]
