"""The report's figures (monitor.charts.cohort): the traces each one draws, its one-sentence
summary and its data table; no app or database needed."""
import json

import plotly.graph_objects as go

from monitor.charts import cohort
from monitor.durability import DayChange
from monitor.report import Share, SideEffectRate

CURVE = [(0, 1.0), (4, 2 / 3), (5, 1 / 3)]


def test_survival_curve_is_a_step_line_with_censoring_marks_and_the_median():
    figure = go.Figure(cohort.survival_figure(CURVE, 5, censored=[3, 9])).to_dict()
    curve, marks, median = figure["data"]

    assert curve["line"]["shape"] == "hv" and curve["mode"] == "lines"
    assert list(curve["x"]) == [0, 4, 5, 9]  # carried flat to the last follow-up, day 9
    assert [round(y, 4) for y in curve["y"]] == [100.0, 66.6667, 33.3333, 33.3333]
    assert list(marks["x"]) == [3, 9] and [round(y, 4) for y in marks["y"]] == [100.0, 33.3333]
    assert median["name"] == "Median: 5 days" and list(median["x"]) == [5] and list(median["y"]) == [50]
    shapes = figure["layout"]["shapes"]
    assert {"x0": 5, "x1": 5, "y0": 0, "y1": 50} in [{k: s.get(k) for k in ("x0", "x1", "y0", "y1")} for s in shapes]
    assert figure["layout"]["yaxis"]["range"] == [0, 105]


def test_survival_curve_without_a_median_has_no_median_mark():
    figure = go.Figure(cohort.survival_figure([(0, 1.0), (6, 0.75)], None, censored=[2, 3, 8])).to_dict()
    assert [t["name"] for t in figure["data"]] == ["Still holding", "Still holding when last seen"]
    chart = cohort.survival_chart([(0, 1.0), (6, 0.75)], None, [2, 3, 8], 4, 1)
    assert chart.summary == ("Of 4 responding sessions, 1 has waned; more than half still hold, "
                             "so the median benefit duration is not yet known.")


def test_survival_chart_summary_and_table():
    chart = cohort.survival_chart(CURVE, 5, [3, 9], 4, 2)
    assert chart.summary == ("The benefit of a responding session typically lasts about 5 days "
                             "(Kaplan-Meier median over 4 responding sessions, 2 waned).")
    assert chart.table.headers == ["Day since session", "Still holding"]
    assert chart.table.rows == [["0", "100%"], ["4", "67%"], ["5", "33%"]]


def test_change_chart_has_a_shaded_confidence_band_and_a_zero_line():
    changes = [DayChange(-1, 3, 0.5, -1.0, 2.0), DayChange(0, 1, -2.0, None, None),
               DayChange(1, 4, -6.0, -8.0, -4.0), DayChange(2, 0, None, None, None)]
    figure = go.Figure(cohort.change_figure(changes)).to_dict()
    low, high, mean = figure["data"]

    assert list(low["y"]) == [-1.0, None, -8.0, None] and "fill" not in low
    assert list(high["y"]) == [2.0, None, -4.0, None] and high["fill"] == "tonexty"
    assert list(mean["x"]) == [-1, 0, 1, 2] and list(mean["y"]) == [0.5, -2.0, -6.0, None]
    assert list(mean["customdata"]) == [3, 1, 4, 0]
    zero = figure["layout"]["shapes"][0]
    assert (zero["y0"], zero["y1"], zero["xref"]) == (0, 0, "paper")

    chart = cohort.change_chart(changes)
    assert chart.summary == ("The mean daily total falls furthest below the reference level on day 1 "
                             "(-6.0 points over 4 check-ins); 0 is no change.")
    assert chart.table.rows[1] == ["0", "1", "-2.0", "–", "–"]


def test_shares_are_horizontal_percentage_bars():
    bars = [cohort.Bar("Sessions that responded", 4 / 6, "4 of 6"), cohort.Bar("Improved", None, "0 of 0")]
    figure = go.Figure(cohort.shares_figure(bars)).to_dict()
    [trace] = figure["data"]
    assert trace["type"] == "bar" and trace["orientation"] == "h"
    assert list(trace["y"]) == ["Sessions that responded", "Improved"]
    assert round(trace["x"][0], 2) == 66.67 and trace["x"][1] is None
    assert list(trace["text"]) == ["67%", "–"]
    chart = cohort.shares_chart(bars)
    assert chart.summary == "Sessions that responded: 67%."
    assert chart.table.rows == [["Sessions that responded", "67%", "4 of 6"], ["Improved", "–", "0 of 0"]]


def test_side_effects_are_grouped_bars_any_level_and_severe():
    rates = [SideEffectRate("nausea", "Nausea or vomiting", Share(2, 40), Share(1, 40)),
             SideEffectRate("headache", "Headache", Share(6, 40), Share(0, 40))]
    chart = cohort.side_effects_chart(rates, 40, 30)
    any_level, severe = go.Figure(chart.figure).to_dict()["data"]
    assert (any_level["name"], severe["name"]) == ("Any level", "Severe")
    assert list(any_level["x"]) == [5.0, 15.0] and list(severe["x"]) == [2.5, 0.0]
    assert go.Figure(chart.figure).to_dict()["layout"]["barmode"] == "group"
    assert chart.summary == ("Over 40 check-ins in the last 30 days, the most often reported side effect was "
                             "headache (15%); 1 severe report in all.")
    assert chart.table.rows[0] == ["Nausea or vomiting", "5%", "2", "2%", "1"]


def test_empty_data_gives_figures_and_plain_summaries():
    assert cohort.survival_chart([(0, 1.0)], None, [], 0, 0).summary.startswith("No responding sessions yet")
    assert cohort.change_chart([DayChange(d, 0, None, None, None) for d in range(-3, 15)]).summary.startswith(
        "No check-ins after a session")
    assert cohort.side_effects_chart([], 0, 30).summary == "No check-ins in the last 30 days, so there are no side-effect rates."
    assert cohort.shares_chart([cohort.Bar("x", None, "")]).summary == "There is not enough data for any of these shares yet."


def test_chart_json_cannot_close_its_script_tag():
    chart = cohort.shares_chart([cohort.Bar("</script><script>alert(1)</script>", 0.5, "1 of 2")])
    assert "</" not in chart.json
    assert json.loads(chart.json)["data"][0]["y"] == ["</script><script>alert(1)</script>"]
