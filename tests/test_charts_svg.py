"""The server-drawn chart pictures (monitor/charts/svg.py): marks where the figure puts them,
session lines and bands, escaped text, and words instead of empty axes. Pure: no app."""
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import plotly.graph_objects as go
import pytest

from monitor.charts import cohort, figure_data, static_chart, svg, to_json
from monitor.charts import individual as charts
from monitor.instruments import BANDS
from tests.test_charts_individual import D0, patient_data

NS = {"s": "http://www.w3.org/2000/svg"}
START = date(2026, 11, 1)


def parse(markup) -> ET.Element:
    """The picture as XML: it must be well formed, whatever text the figure carried."""
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def drawn(figure: go.Figure, width: int = 400, **kwargs) -> ET.Element:
    """A figure written here with plotly's own classes (the app writes its figures as plain
    data, monitor/charts/__init__.py), drawn from the same JSON the page gets."""
    return parse(svg.render(figure_data(figure.to_plotly_json()), width=width, uid="t", label="A chart", **kwargs))


def plotted(root: ET.Element) -> list[ET.Element]:
    """The marks inside the plot area (not the legend's samples)."""
    return list(root.find("s:g", NS).iter("{http://www.w3.org/2000/svg}path"))


def points(d: str) -> list[list[tuple[float, float]]]:
    """The runs of a path drawn with M and L only, as numbers."""
    return [[tuple(map(float, p.split(","))) for p in re.split(r"L", run) if p]
            for run in d.split("M") if run]


# A plot area of x 40..380 and y 10..220 in a 400 x 250 picture.
LAYOUT = dict(height=250, margin=dict(l=40, r=20, t=10, b=30), showlegend=False,
              xaxis=dict(type="date", range=[START, START + timedelta(days=10)]),
              yaxis=dict(range=[0, 21]))


def test_points_are_placed_at_their_dates_and_values():
    figure = go.Figure(go.Scatter(x=[START, START + timedelta(days=5), START + timedelta(days=10)], y=[0, 21, 10.5],
                                  mode="lines", line=dict(color="#0b5cad")), layout=LAYOUT)
    [line] = [p for p in drawn(figure).iter("{http://www.w3.org/2000/svg}path") if p.get("stroke") == "#0b5cad"]
    assert points(line.get("d")) == [[(40, 220), (210, 10), (380, 115)]]


def test_a_missed_day_breaks_the_line_and_markers_sit_on_the_points():
    days = [START + timedelta(days=n) for n in (0, 1, 3, 4)]
    xs, ys = charts._with_gaps(days, dict(zip(days, [21, 0, 21, 0])))
    figure = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", line=dict(color="#0b5cad"),
                                  marker=dict(size=6, color="#123456")), layout=LAYOUT)
    root = drawn(figure)
    [line] = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("stroke") == "#0b5cad"]
    assert points(line.get("d")) == [[(40, 10), (74, 220)], [(142, 10), (176, 220)]]
    [markers] = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("stroke") == "#123456"]
    # One path for all markers: a dot 6 px wide on each point (a zero-length stroke with round caps).
    assert (markers.get("stroke-width"), markers.get("stroke-linecap")) == ("6", "round")
    assert markers.get("d") == "M40,10h0M74,220h0M142,10h0M176,220h0"


def test_the_timeline_picture_has_bands_session_lines_and_every_series():
    data, treatments = patient_data()
    chart = charts.timeline(data, treatments)
    root = parse(svg.render(figure_data(chart.figure), width=720, uid="timeline", label="Daily totals",
                            description=chart.summary))
    # The severity bands behind the 0-21 axis (range -0.5..22.2 over the plot's y 12..280),
    # each from its lowest total - 0.5 to its highest + 0.5.
    rects = {r.get("fill"): r for r in root.iter("{http://www.w3.org/2000/svg}rect")}
    for band, shape in zip(BANDS, charts.band_shapes(0, 1)):
        rect = rects[shape["fillcolor"]]
        top, bottom = (280 - (v + 0.5) / 22.7 * 268 for v in (band.high + 0.5, band.low - 0.5))
        assert (float(rect.get("y")), float(rect.get("height"))) == pytest.approx((top, bottom - top), abs=0.1)
    # A dotted line at each session's date (the planned one too), in one path.
    [sessions] = [p.get("d") for p in plotted(root)
                  if p.get("stroke") == charts.TREATMENT_COLOUR and p.get("stroke-dasharray")]
    assert len(points(sessions)) == 3
    # Series: totals, session triangles, baselines, nadirs, wane days; each named in the legend.
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    for name in ("Daily total", "Treatment session", "Session baseline", "Nadir", "Wane day"):
        assert name in texts
    assert root.get("role") == "img" and root.get("aria-label") == "Daily totals"
    assert root.find("s:title", NS).text == "Daily totals"
    assert root.find("s:desc", NS).text == chart.summary


def test_session_lines_are_at_the_session_dates():
    figure = go.Figure(go.Scatter(x=[START], y=[5]), layout=dict(
        LAYOUT, shapes=charts._treatment_lines([START + timedelta(days=2), START + timedelta(days=7)])))
    [lines] = [points(p.get("d")) for p in drawn(figure).iter("{http://www.w3.org/2000/svg}path")
               if p.get("stroke") == charts.TREATMENT_COLOUR]
    assert lines == [[(108, 220), (108, 10)], [(278, 220), (278, 10)]]  # yref paper: the plot's full height


def test_date_ticks_are_the_patients_calendar_days():
    root = drawn(go.Figure(go.Scatter(x=[START], y=[5]), layout=LAYOUT), width=720)
    labels = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert labels[:6] == ["1 Nov", "2 Nov", "3 Nov", "4 Nov", "5 Nov", "6 Nov"]
    # A year on a phone: months, with the year where it starts and at January.
    year = dict(LAYOUT, xaxis=dict(type="date", range=[date(2026, 6, 20), date(2027, 6, 20)]))
    labels = [t.text for t in drawn(go.Figure(go.Scatter(x=[START], y=[5]), layout=year), width=340).iter(
        "{http://www.w3.org/2000/svg}text")]
    months = [label for label in labels if not label.isdigit()]
    assert months[0] == "Jul 2026" and "Jan 2027" in months
    assert all(len(m) == 3 for m in months if m not in ("Jul 2026", "Jan 2027"))


def test_text_in_the_figure_is_escaped():
    nasty = '</svg><script>alert("x")</script> & <b>'
    figure = go.Figure(go.Scatter(x=[1, 2], y=[1, 2], name=nasty, text=[nasty, nasty], mode="lines+text"),
                       layout=dict(showlegend=True, yaxis=dict(title=nasty)))
    markup = str(svg.render(figure_data(figure.to_plotly_json()), width=400, uid='x"y', label=nasty, description=nasty))
    assert "<script" not in markup and "<b>" not in markup
    root = parse(markup)
    assert root.get("aria-label") == nasty and root.find("s:title", NS).text == nasty
    assert nasty in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.parametrize("figure", [
    go.Figure(),
    go.Figure(go.Scatter(x=[], y=[], name="Daily total")),
    go.Figure(go.Scatter(x=[None, None], y=[1, None])),
    go.Figure(go.Bar(x=[None, None], y=["a", "b"], orientation="h")),
], ids=["no traces", "empty trace", "only gaps", "bars without values"])
def test_a_chart_without_data_is_a_sentence_not_empty_axes(figure):
    markup = str(svg.render(figure_data(figure.to_plotly_json()), width=400, uid="e", label="A chart"))
    assert markup == '<p class="chart-empty">Nothing to chart yet.</p>'
    assert static_chart(to_json(figure.to_plotly_json()), "e", "A chart", "Nothing yet.").empty


def test_each_chart_comes_as_a_phone_and_a_wide_drawing():
    figure = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    result = static_chart(to_json(figure.to_plotly_json()), "trend", "Your trend", "Going down.")
    assert not result.empty
    widths = re.findall(r'<svg class="chart-svg (narrow|wide)" viewBox="0 0 (\d+) ', str(result.markup))
    assert widths == [("narrow", "340"), ("wide", "720")]
    assert re.findall(r'clipPath id="([\w-]+)"', str(result.markup)) == ["trend-340-clip", "trend-720-clip"]


def test_bars_are_as_long_as_their_share():
    figure = cohort.shares_figure([cohort.Bar("Responded", 0.5, "1 of 2"), cohort.Bar("Adherence", None, "none")])
    root = parse(svg.render(figure_data(figure), width=720, uid="s", label="Shares"))
    [bars] = [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("fill") == cohort.LINE]
    [(x, _, width)] = [tuple(map(float, m)) for m in re.findall(r"M([\d.]+),([\d.]+)h([\d.]+)", bars.get("d"))]
    clip = root.find(".//s:clipPath/s:rect", NS)
    assert width == pytest.approx(float(clip.get("width")) / 2, abs=0.1) and x == float(clip.get("x"))
    texts = [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert "50%" in texts and "–" in texts and "Responded" in texts  # no value: said, not drawn


def test_survival_is_a_step_line_and_the_change_has_its_confidence_band():
    survival = figure_data(cohort.survival_figure([(0, 1.0), (3, 0.5), (6, 0.25)], 3, [4]))
    root = parse(svg.render(survival, width=720, uid="k", label="Still holding"))
    [curve] = [p.get("d") for p in plotted(root) if p.get("stroke") == cohort.LINE]
    assert re.fullmatch(r"M[\d.]+,[\d.]+(H[\d.]+V[\d.]+)+", curve)
    from monitor.durability import DayChange
    change = figure_data(cohort.change_figure([DayChange(d, -d, 4, -d - 1, -d + 1) for d in range(-3, 8)]))
    root = parse(svg.render(change, width=720, uid="c", label="Change"))
    assert [p for p in root.iter("{http://www.w3.org/2000/svg}path") if p.get("fill") == cohort.BAND]
    assert "\u22122" in [t.text for t in root.iter("{http://www.w3.org/2000/svg}text")]  # a true minus sign


def test_every_figure_the_pages_use_is_valid_plotly_and_draws():
    from monitor.durability import DayChange
    data, treatments = patient_data()
    checkins = [type("C", (), {"local_date": D0, **{f"se_{k}": 2 for k in
                ("dissociation", "dizziness", "nausea", "headache", "drowsiness", "bladder", "vision")}})()]
    figures = [charts.timeline(data, treatments).figure, charts.aligned(data)[0].figure,
               charts.side_effects(checkins)[0].figure,
               charts.own_trend(data.totals, list(treatments), data.today, 30).figure,
               cohort.survival_figure([(0, 1.0), (2, 0.4)], 2, [1]),
               cohort.change_figure([DayChange(d, -d, 4, -d - 1, -d + 1) for d in range(-3, 8)]),
               cohort.shares_figure([cohort.Bar("Responded", 0.5, "1 of 2"), cohort.Bar("Adherence", None, "none")]),
               cohort.side_effects_figure(["Nausea", "Headache"], [0.2, 0.1], [0.05, None])]
    empty = [cohort.survival_figure((), None), cohort.change_figure([])]
    for figure in figures + empty:
        # The app writes figures as plain data: plotly's own classes check every attribute
        # here (ValueError on any plotly.js would not know), as they used to on every page.
        go.Figure(figure)
    for figure in empty:
        assert "chart-empty" in str(svg.render(figure_data(figure), width=svg.WIDE, uid="f", label="Chart"))
    for figure in figures:
        for width in (svg.NARROW, svg.WIDE):
            root = parse(svg.render(figure_data(figure), width=width, uid="f", label="Chart"))
            assert root.get("viewBox").startswith(f"0 0 {width} ")
            assert len(list(root.iter())) < 80  # a few elements per series, not one per point
