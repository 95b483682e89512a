"""Patient chart builders (data in, figure out) and the pages that carry them."""
import json
import re
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from types import SimpleNamespace

import plotly.graph_objects as go
import pytest

from monitor.charts import individual as charts
from monitor import analysis
from monitor.charts import figure_data, to_json
from monitor.durability import analyse_patient
from monitor.instruments import SIDE_EFFECTS
from tests.factories import TODAY, add_checkins, add_treatment, day, login

D0 = date(2026, 11, 10)  # the worked example's first session; days below count from it


# SPEC 4's worked example, then a missed day 11 and two more check-ins.
TOTALS = {day(n, D0): t for n, t in [(-3, 15), (-2, 16), (-1, 14), (1, 6), (2, 5), (3, 7), (4, 8), (5, 9), (6, 11),
                                     (8, 5), (9, 4), (10, 6), (12, 7), (13, 8)]}


def patient_data():
    treatments = {day(0, D0): SimpleNamespace(route="lozenge", dose_mg=Decimal("200.00")),
                  day(7, D0): SimpleNamespace(route="intramuscular", dose_mg=Decimal("52.50")),
                  day(20, D0): SimpleNamespace(route="intramuscular", dose_mg=Decimal("55.00"))}
    a = analyse_patient(TOTALS.items(), list(treatments), TODAY)
    data = SimpleNamespace(totals=TOTALS, today=TODAY, analysis=a, checkins=[])
    return data, treatments


def traces_by_name(figure: dict):
    """The traces by name, read through plotly's own classes (which also check the figure)."""
    return {t.name: t for t in go.Figure(figure).data}


def test_timeline_marks_sessions_baselines_nadirs_and_wane_days():
    data, treatments = patient_data()
    chart = charts.timeline(data, treatments)
    t = traces_by_name(chart.figure)
    totals = t["Daily total"]
    assert list(totals.y).count(None) == 3  # gaps before day 1 (no day 0), day 8 and day 12
    sessions = t["Treatment session"]
    assert list(sessions.text) == ["Sublingual lozenge, 200 mg", "Intramuscular, 52.5 mg",
                                   "Intramuscular, 55 mg (planned)"]
    assert list(t["Nadir"].y) == [5, 4]
    assert list(t["Wane day"].x) == [day(5, D0)]
    assert [y for y in t["Session baseline"].y if y is not None][0] == 15
    # Session lines are layout shapes passed in one piece, one per session, after the 4 bands.
    lines = [s for s in go.Figure(chart.figure).layout.shapes if s.type == "line"]
    assert len(lines) == 3 and len(go.Figure(chart.figure).layout.shapes) == 7
    assert chart.summary.startswith("14 check-ins from 7 Nov 2026 to 23 Nov 2026; the latest total is 8 (mild)")


def test_timeline_without_checkins_says_so():
    data = SimpleNamespace(totals={}, today=TODAY, analysis=analyse_patient([], [], TODAY), checkins=[])
    assert charts.timeline(data, {}).summary == "No check-ins yet."


def test_aligned_chart_has_a_typical_path_and_the_threshold():
    data, _ = patient_data()
    chart, rows = charts.aligned(data)
    by_day = {r.day: r for r in rows}
    assert by_day[2].n == 2 and by_day[2].mean == pytest.approx((5 + 4) / 2)
    assert by_day[-1].mean == pytest.approx((14 + 11) / 2)
    typical = traces_by_name(chart.figure)["Typical path (mean)"]
    assert list(typical.x)[0] == -3
    threshold_lines = [s for s in go.Figure(chart.figure).layout.shapes if s.type == "line" and s.yref == "y"]
    assert [s.y0 for s in threshold_lines] == [8]  # the latest responding session's T
    assert "falls to 4.5 on day 2" in chart.summary


def test_side_effects_chart_and_rows():
    checkins = [SimpleNamespace(local_date=day(1, D0), **{f"se_{k}": None for k in
                ("dissociation", "dizziness", "nausea", "headache", "drowsiness", "bladder", "vision")})
                for _ in range(1)]
    checkins[0].se_dissociation = 2
    checkins[0].se_nausea = 3
    chart, rows = charts.side_effects(checkins)
    assert [(r.label, r.severity) for r in rows] == [
        ("Feeling detached or unreal (dissociation)", 2), ("Nausea or vomiting", 3)]
    severe = traces_by_name(chart.figure)["Severe"]
    assert list(severe.y) == ["Nausea or vomiting"]
    assert chart.summary == ("2 side-effect reports in this period, 1 severe "
                             "(most recent: nausea or vomiting on 11 Nov 2026).")


def test_own_trend_shows_only_the_period():
    chart = charts.own_trend(TOTALS, [day(0, D0), day(7, D0)], TODAY, days=14)
    xs = [x for x in go.Figure(chart.figure).data[0].x if x is not None]
    assert min(xs) >= TODAY - timedelta(days=13)
    assert list(go.Figure(chart.figure).data[1].x) == [day(7, D0)]


def test_to_json_cannot_close_its_script_tag():
    text = to_json({"data": [], "layout": dict(title=dict(text="</script><script>alert(1)</script>"))})
    assert "</script>" not in text
    assert json.loads(text)["layout"]["title"]["text"].startswith("</script>")


# The pages


def seed(patient):
    add_checkins(patient, TOTALS, side_effects={day(1, D0): {"nausea": 2}})
    for on in (day(0, D0), day(7, D0)):
        add_treatment(patient, datetime.combine(on, time(17), tzinfo=timezone.utc), dose="200")


def chart_tags(html):
    return re.findall(r'<script type="application/json" data-chart-for="([\w-]+)">', html)


def static_pictures(html):
    """The ids of the server-drawn chart pictures: each chart's phone and wide drawings."""
    return re.findall(r'<svg class="chart-svg (?:narrow|wide)"[^>]*role="img"[^>]*>.*?<clipPath id="([\w-]+)-clip"',
                      html, re.S)


def plotly_is_offered_not_loaded(client, html):
    """plotly.js is not fetched by the page itself: no <script src> names it, and only the small
    charts.js (deferred) is; the bundle's address is handed to charts.js, and it is served."""
    sources = re.findall(r'<script\b[^>]*\bsrc="([^"]+)"', html)
    assert [s for s in sources if "plotly" in s] == []
    assert [s for s in sources if "charts." in s] and 'defer' in html
    bundle = re.search(r'data-plotly="(/static/vendor/plotly-basic-4\.1\.1\.min\.[0-9a-f]{12}\.js)"', html).group(1)
    assert client.get(bundle).status_code == 200
    assert "<link rel=\"preload\"" not in html and "modulepreload" not in html


def test_provider_patient_page_has_three_charts_and_the_durability_table(client, users):
    seed(users.patient_a)
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    assert chart_tags(html) == ["timeline-chart", "aligned-chart", "effects-chart"]
    # Each chart is in the first response as a picture, phone and wide drawings.
    assert static_pictures(html) == ["timeline-chart-340", "timeline-chart-720", "aligned-chart-340",
                                     "aligned-chart-720", "effects-chart-340", "effects-chart-720"]
    plotly_is_offered_not_loaded(client, html)
    # The interactive chart's area and button are outside the picture (role="img" holds no controls).
    assert '<div id="timeline-chart" class="chart-area" hidden></div>' in html
    assert 'aria-controls="timeline-chart" data-chart="timeline-chart">Interactive chart</button>' in html
    # No inline script: every <script> either loads a file or carries JSON data.
    for tag in re.findall(r"<script[^>]*>", html):
        assert "src=" in tag or 'type="application/json"' in tag
    # Waned on day 5, and holding (censored) at day 6: Kaplan-Meier median 5.
    assert "Benefit typically lasts about <strong>5 days</strong> (2 responding sessions)" in html
    assert '<span class="badge">waned</span>' in html and '<span class="badge">holding</span>' in html


def test_plotly_is_offered_only_on_chart_pages(client, users):
    login(client, users.patient_a)
    assert "plotly" not in client.get("/checkin").get_data(as_text=True)
    assert "plotly" not in client.get("/me").get_data(as_text=True)
    assert "plotly" in client.get("/me/trend").get_data(as_text=True)


def test_patient_trend_is_a_picture_in_the_first_response(client, users):
    seed(users.patient_a)
    login(client, users.patient_a)
    html = client.get("/me/trend?days=30").get_data(as_text=True)
    assert static_pictures(html) == ["trend-chart-340", "trend-chart-720"]
    picture = html[html.index('<svg class="chart-svg narrow"'):]
    picture = picture[:picture.index("</svg>")]
    label = "Your daily totals over the last 30 days with treatment sessions marked"
    assert f'aria-label="{label}"' in picture and f"<title>{label}</title>" in picture
    assert "<desc>Over the last 30 days you checked in on 14 days" in picture
    plotly_is_offered_not_loaded(client, html)


def test_charts_without_data_say_so_in_words(client, users):
    # A new patient: each chart says what will fill it, in place of hour ticks and "Jan 2000".
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    for words in ("Nothing to chart yet: the daily totals appear here from the first check-in.",
                  "Nothing to chart yet: the interval of each session appears here once there are check-ins in the days "
                  "before and after it.",
                  "Nothing to chart: no side effects were reported in the last 90 days."):
        assert f'<p class="chart-empty">{words}</p>' in html
    assert "<svg" not in html and "Interactive chart" not in html and chart_tags(html) == []
    assert "2000" not in html
    assert "No check-ins yet." in html and "No side effects reported in this period." in html


@pytest.mark.parametrize("query, days", [("", 30), ("?days=90", 90), ("?days=7", 30), ("?days=x", 30)])
def test_patient_trend_periods(client, users, query, days):
    seed(users.patient_a)
    login(client, users.patient_a)
    r = client.get("/me/trend" + query)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert f"<strong aria-current=\"page\">Last {days} days</strong>" in html
    assert chart_tags(html) == ["trend-chart"]


def test_patient_trend_shows_only_own_data(client, users):
    seed(users.patient_b)
    login(client, users.patient_a)
    html = client.get("/me/trend?days=90").get_data(as_text=True)
    assert "No check-ins in the last 90 days yet." in html


def test_csp_forbids_inline_script(client, users):
    r = client.get("/login")
    policy = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline' " not in policy.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in policy


def test_a_new_patients_own_trend_says_what_will_fill_it(client, users):
    login(client, users.patient_a)
    html = client.get("/me/trend").get_data(as_text=True)
    assert '<p class="chart-empty">Nothing to show yet: your chart starts with your first check-in in these days.</p>' in html
    assert "<svg" not in html and "Interactive chart" not in html and chart_tags(html) == []


def test_a_short_history_is_ticked_by_day_not_by_hour(users):
    # One check-in: the timeline spans three days, which plotly.js would tick every few hours.
    data = analysis.load_one(users.patient_a)
    data.totals = {TODAY: 9}
    figure = figure_data(charts.timeline(data, {}).figure)
    assert figure["layout"]["xaxis"]["dtick"] == 86_400_000 and figure["layout"]["xaxis"]["tickformat"] == "%-d %b"
    # A long history keeps plotly's own ticks (months).
    data.totals = {TODAY - timedelta(days=60): 9, TODAY: 9}
    assert "dtick" not in figure_data(charts.timeline(data, {}).figure)["layout"]["xaxis"]


def test_the_side_effect_chart_spans_the_days_asked_about_even_with_one_report():
    checkins = [SimpleNamespace(local_date=TODAY, **{f"se_{key}": (3 if key == "nausea" else None)
                                                     for key, _ in SIDE_EFFECTS})]
    figure = figure_data(charts.side_effects(checkins, start=TODAY - timedelta(days=89), end=TODAY)[0].figure)
    assert figure["layout"]["xaxis"]["range"] == [str(TODAY - timedelta(days=90)), str(TODAY + timedelta(days=1))]
