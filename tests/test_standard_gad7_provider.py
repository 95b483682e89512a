"""The standard GAD-7 on the staff side (SPEC 2.2, issue 12): its own markers on the patient's
chart (plotly figure and server-drawn SVG), the change from the first with the MCID of 4, the
dashboard's latest score and change in one query, and the durability analysis untouched."""
import json
import re

from monitor import analysis, dashboard, stored_analysis
from monitor.charts import individual
from monitor.extensions import db
from tests.factories import (NOW, TODAY, add_checkins, add_standard_gad7, add_treatment, at_local,
                             counted_queries, day, login)

DIAMOND_COLOUR = individual.STANDARD_COLOUR


def timeline_figure(html: str) -> dict:
    found = re.search(r'<script type="application/json" data-chart-for="timeline-chart">(.*?)</script>', html, re.S)
    return json.loads(found.group(1))


def with_history(patient):
    add_checkins(patient, {n: 10 + n % 5 for n in range(-30, 1)})
    add_standard_gad7(patient, day(-28), 14)
    add_standard_gad7(patient, day(-14), 12)
    add_standard_gad7(patient, day(0), 9, difficulty=2)


# --- The patient's page.

def test_each_standard_score_is_a_diamond_apart_from_the_daily_totals(client, users):
    with_history(users.patient_a)
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    figure = timeline_figure(html)
    [standard] = [t for t in figure["data"] if t.get("name") == individual.STANDARD_NAME]
    daily = [t for t in figure["data"] if t.get("name") == "Daily total"][0]
    assert standard["y"] == [14, 12, 9]
    assert standard["x"] == [str(day(-28)), str(day(-14)), str(TODAY)]
    assert standard["mode"] == "markers" and standard["marker"]["symbol"] == "diamond"
    assert daily["marker"].get("symbol") != "diamond" and 14 not in [y for y in daily["y"] if y is not None][-1:]
    # The server-drawn SVG shows them too: in each drawing (narrow and wide) one path of three
    # filled diamonds (four corners each) in that colour, and a legend entry with its swatch.
    svg = html[:html.index('data-chart-for="timeline-chart"')]
    paths = re.findall(rf'<path d="([^"]*)" fill="{DIAMOND_COLOUR}"/>', svg)
    plotted = [d for d in paths if d.count("Z") == 3 and d.count("L") == 9]
    assert len(plotted) == 2 and len(paths) == 4
    assert svg.count(individual.STANDARD_NAME) == 2


def test_the_page_shows_first_latest_and_change_with_the_mcid(client, users):
    with_history(users.patient_a)
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    section = html[html.index('id="standard-gad7"'):html.index('id="durability"')]
    assert "First (baseline): <strong>14</strong>" in section
    assert "Latest: <strong>9</strong>" in section and ">Mild</span>" in section
    assert "<strong>−5 points since the first (14 → 9): at least the MCID of 4</strong> (improved)." in section
    assert "Somewhat difficult" not in section and "Very difficult" in section  # difficulty 2, shown apart
    assert "3 standard GAD-7s (diamonds); the latest, on 26 Nov 2026, scored 9 (mild)." in html


def test_a_change_below_the_mcid_is_not_marked_as_meaningful(client, users):
    add_standard_gad7(users.patient_a, day(-14), 14)
    add_standard_gad7(users.patient_a, day(0), 11)
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    assert "−3 points since the first (14 → 11): less than the MCID of 4." in html
    assert "<strong>−3 points" not in html


def test_without_any_the_page_says_the_baseline_comes_after_the_next_checkin(client, users):
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    assert "No standard GAD-7 yet." in html
    assert individual.STANDARD_NAME not in html


def test_another_providers_patients_scores_are_not_found(client, users):
    with_history(users.patient_b)
    login(client, users.provider_a)
    assert client.get(f"/patients/{users.patient_b.id}").status_code == 404


# --- The dashboard.

def test_the_dashboard_shows_the_latest_score_and_change_with_the_mcid(client, users):
    with_history(users.patient_a)
    add_standard_gad7(users.patient_b, day(-2), 17)
    login(client, users.admin)
    html = client.get("/patients").get_data(as_text=True)
    row_a = html[html.index(f'id="patient-{users.patient_a.id}"'):]
    row_a = row_a[:row_a.index("</tr>")]
    assert re.search(r'data-label="Standard GAD-7"><strong>9</strong>\s*<span class="band band-mild">Mild</span>', row_a)
    assert "<strong>−5 points since the first (14 → 9): at least the MCID of 4</strong>" in row_a
    row_b = html[html.index(f'id="patient-{users.patient_b.id}"'):]
    row_b = row_b[:row_b.index("</tr>")]
    assert "<strong>17</strong>" in row_b and "baseline only" in row_b


def test_the_dashboard_reads_standard_scores_in_one_query_for_the_page_only(app, users):
    with_history(users.patient_a)
    with counted_queries() as statements:
        board = dashboard.build(users.provider_a, now=NOW)
    assert sum("standard_gad7s" in s for s in statements) == 1
    [row] = board.rows
    assert (row.standard.first, row.standard.latest, row.standard.change.points) == (14, 9, -5)


# --- The durability analysis keeps using daily check-ins only.

def durability_results(patient):
    fresh = analysis.load_one(patient).analysis
    db.session.expire_all()
    stored_analysis.refresh([patient], now=NOW)
    db.session.commit()
    stored = stored_analysis.for_patients([patient], now=NOW)[patient.id]
    return fresh, stored


def test_a_standard_gad7_changes_no_analysis_result(runner, users):
    patient = users.patient_a
    for weeks_ago in (5, 3, 1):
        add_treatment(patient, at_local(day(-7 * weeks_ago)), route="intramuscular")
    add_checkins(patient, {n: [15, 14, 16, 6, 5, 7, 9, 12, 14, 15, 15][(n + 40) % 11] for n in range(-40, 1)})
    before = durability_results(patient)
    export_before = runner.invoke(args=["export-durability", patient.email]).output
    # Standard scores far from the daily totals, on check-in days and on days without one.
    for n, total in [(-40, 21), (-26, 0), (-12, 21), (-5, 0), (0, 21)]:
        add_standard_gad7(patient, day(n), total)
    db.session.expire_all()
    after = durability_results(patient)
    assert after == before
    assert runner.invoke(args=["export-durability", patient.email]).output == export_before
    assert before[0].treatments and before[0].treatments[0].nadir is not None  # a real analysis was compared
