"""Figure builders: data in, plotly figure out. No queries and no Flask here.

Each figure reaches the page twice, from the same data: drawn on the server as an SVG
(svg.py, via static_chart and templates/_charts.html), which the browser paints with the page
and which needs no JavaScript; and as compact JSON in a <script type="application/json"> tag,
which static/js/charts.js hands to the vendored plotly.js basic bundle (scatter, bar and pie;
about 330 KB compressed) only when the reader asks for the interactive chart."""
import json
from datetime import date, timedelta

import plotly.graph_objects as go
from plotly.io.json import to_json_plotly
from plotly.offline import get_plotlyjs_version

from ..instruments import BANDS
from . import svg

# The bundle of the plotly.js the installed plotly package writes figures for (pinned in
# pyproject.toml; tests/test_static_files.py checks the vendored file matches).
PLOTLY_JS = f"vendor/plotly-basic-{get_plotlyjs_version()}.min.js"

# Band colours match the CSS badges (static/css/app.css .band-*).
BAND_COLOURS = {"minimal": "#e3f4e8", "mild": "#fdf5d8", "moderate": "#fde7d6", "severe": "#fbe0e2"}
LINE = "#0b5cad"
MUTED = "#6b7682"
ALERT = "#a4121b"


def base_layout(**overrides) -> dict:
    layout = dict(
        margin=dict(l=44, r=12, t=12, b=40),
        height=320,
        font=dict(family="system-ui, -apple-system, Segoe UI, Roboto, sans-serif", size=13),
        paper_bgcolor="#ffffff",
        plot_bgcolor="#ffffff",
        hovermode="closest",
        showlegend=True,
        legend=dict(orientation="h", y=-0.2),
        xaxis=dict(fixedrange=True, showgrid=False),
        yaxis=dict(fixedrange=True, gridcolor="#eef0f3"),
    )
    layout.update(overrides)
    return layout


DAY_MS = 86_400_000
SHORT_RANGE = timedelta(days=14)


def date_axis(x0: date, x1: date, **extra) -> dict:
    """A date axis over [x0, x1]. Over a few days plotly.js would tick every few hours
    ("12:00"), which means nothing for daily check-ins: a short range is ticked by day."""
    axis = {**dict(range=[x0, x1], type="date", fixedrange=True, showgrid=False), **extra}
    if x1 - x0 <= SHORT_RANGE:
        axis.update(dtick=DAY_MS, tickformat="%-d %b")
    return axis


def band_shapes(x0, x1, xref: str = "x") -> list[dict]:
    """The severity bands as shaded rectangles behind a 0-21 score axis."""
    return [
        dict(type="rect", xref=xref, yref="y", x0=x0, x1=x1, y0=band.low - 0.5 if band.low else -0.5,
             y1=band.high + 0.5, fillcolor=BAND_COLOURS[band.key], line=dict(width=0), layer="below")
        for band in BANDS
    ]


def _compact_template() -> dict:
    """The parts of plotly's default template that 2-D scatter and bar charts use (about 1 KB of
    its 7 KB), so the interactive chart looks the same while each figure travels light."""
    template = json.loads(go.Figure().to_json())["layout"]["template"]
    keep = ("autotypenumbers", "colorway", "font", "hoverlabel", "hovermode", "xaxis", "yaxis", "title",
            "shapedefaults", "annotationdefaults")
    return {"data": {kind: template["data"][kind] for kind in ("scatter", "bar")},
            "layout": {key: template["layout"][key] for key in keep}}


COMPACT_TEMPLATE = _compact_template()


# Figures are plotly's JSON as plain data: what plotly.js reads, and what plotly's Python
# figures turn into. Not plotly.graph_objects, which check every attribute of every trace as
# they are built: a year's aligned chart (a trace per session) took most of the provider's
# patient page that way (issue 9). The tests build every figure as go.Figure, which checks it.

def scatter(**attributes) -> dict:
    """A scatter trace (plotly's attributes, nested as dicts)."""
    return {"type": "scatter", **attributes}


def bar(**attributes) -> dict:
    """A bar trace (plotly's attributes, nested as dicts)."""
    return {"type": "bar", **attributes}


def new_figure(traces: list[dict], layout: dict) -> dict:
    """A figure of these traces and this layout (base_layout's)."""
    return {"data": list(traces), "layout": layout}


def to_json(figure: dict) -> str:
    """The figure for a JSON script tag, without spaces and with the compact template; every
    '<' is written \\u003c so no text can close the tag or open a comment in it."""
    data = {**figure, "layout": {**figure.get("layout", {}), "template": COMPACT_TEMPLATE}}
    return to_json_plotly(data).replace("<", "\\u003c")


def figure_data(figure: dict) -> dict:
    """The figure as the page gets it: plain JSON data, dates as ISO strings."""
    return json.loads(to_json(figure))


def static_chart(figure_json: str, chart_id: str, label: str, summary: str, empty: str = "") -> svg.StaticChart:
    """The server-drawn first view of a chart from its figure JSON (monitor/charts/svg.py); for
    templates/_charts.html. `empty`: what the reader is told in place of a chart with no points."""
    return svg.for_page(json.loads(figure_json), chart_id, label, summary, empty=empty)
