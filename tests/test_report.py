"""The durability report (SPEC 8): each measure on a hand-made clinic, checked against values
worked out by hand below; the page, who may see it, and its query count."""
import re
from datetime import date, datetime, timezone

import pytest

from monitor import durability, report, schedule
from monitor.extensions import db
from tests.factories import (
    TODAY, add_checkins, add_patient, add_provider, add_treatment, at_local, day, events, login,
    page_statements,
)

ENROLLED = datetime(2026, 10, 1, 12, tzinfo=timezone.utc)


def d(month: int, day: int) -> date:
    return date(2026, month, day)


def sessions(patient, *days: date, hour: int = 10) -> None:
    """A 50 mg lozenge session at hour:00 in the patient's zone on each of the days."""
    for on in days:
        add_treatment(patient, at_local(on, hour, zone=patient.timezone))


@pytest.fixture
def clinic(users):
    """Seven patients, every number below worked out by hand (today is 26 Nov 2026; lapse_days 3).

    alice (NY): SPEC 4's worked example plus a third session.
      S1 10 Nov: B=B0=R=15, N=5, G=10, waned W=5 (event at 5).
      S2 17 Nov: B=9.33, R=15, N=4, G=11, holding, censored at day 3 (its interval ends 20 Nov).
      S3 21 Nov: B=5, R=15, days 1..3 read 13, 12, 14: N=12, G=3: no-response.
      Three sessions: mean(13, 12, 14) = 13; B0 - 13 = 2 < 4: not improved.
      Check-ins: 7-9, 11-16, 18-20, 22-24 Nov (15; headache mild 12th, moderate 13th; nausea severe 12th).
      Adherence: 14 days (12-25 Nov) 11/14; 30 days (27 Oct-25 Nov) 15/30. Not lapsed.
    bob (London): B0 = 12 (27, 29, 30, 31 Oct read 12).
      S1 1 Nov: B=R=12, days 1..3 read 10, 11, 10: N=10, G=2: no-response.
      S2 8 Nov: B=R=12, N=5, G=7, T=8.5; 12 and 13 Nov read 9, 9: waned W=4 (event).
      S3 15 Nov: B=9, R=12, days 1..3 read 7, 8, 9: N=7, G=5, T=9.5; never two days >= 9.5:
        holding, censored at day 9 (24 Nov).
      Three sessions: mean(7, 8, 9) = 8; 12 - 8 = 4 >= MCID 4: improved (the boundary).
      Check-ins: 27 Oct (severe headache: outside the 30 side-effect days, 28 Oct-26 Nov) and 21
      more from 29 Oct; the one on 2 Nov has a severe headache and dissociation 0.
      Adherence: 14 days 9/14; 30 days 22/30. Not lapsed (last check-in 24 Nov).
    carol: one check-in (18 Nov, dizziness mild); sessions 19, 21, 23 Nov: all insufficient-data;
      no B0 (one day). Adherence 1/14 and 1/30. Lapsed (7 days).
    dave: enrolled 24 Nov, nothing else: adherence 0/2 and 0/2; not lapsed (never checked in).
    eve: check-ins 15, 16 Nov (B0 = 11); sessions 20, 22, 25 Nov, all insufficient-data; no
      check-in after the third yet. Adherence 2/14 and 2/30. Lapsed (9 days).
    frank: paused: in no adherence or lapse figure. gina: enrolled today, no days to count.
    Everyone else was enrolled on 1 Oct.

    Clinic: response 4 of 6 judged sessions (carol's and eve's 6 are insufficient); Kaplan-Meier
    over (3, censored), (4, waned), (5, waned), (9, censored): S = 2/3 from day 4, 1/3 from day
    5, median 5, waned by day 7 = 1 - 1/3 = 2/3; simple count 2 of 4 responding sessions.
    """
    alice, bob = users.patient_a, users.patient_b
    alice.created_at = bob.created_at = ENROLLED
    db.session.commit()
    add_checkins(alice, {d(11, 7): 15, d(11, 8): 16, d(11, 9): 14, d(11, 11): 6, d(11, 12): 5, d(11, 13): 7,
                         d(11, 14): 8, d(11, 15): 9, d(11, 16): 11, d(11, 18): 5, d(11, 19): 4, d(11, 20): 6,
                         d(11, 22): 13, d(11, 23): 12, d(11, 24): 14},
                 {d(11, 12): {"headache": 1, "nausea": 3}, d(11, 13): {"headache": 2}})
    sessions(alice, d(11, 10), d(11, 17), d(11, 21))
    sessions(alice, d(11, 10), hour=16)   # the same date again: one session
    sessions(alice, d(12, 3))             # planned

    add_checkins(bob, {d(10, 27): 12, d(10, 29): 12, d(10, 30): 12, d(10, 31): 12,
                       d(11, 2): 10, d(11, 3): 11, d(11, 4): 10, d(11, 5): 12, d(11, 6): 12, d(11, 7): 12,
                       d(11, 9): 5, d(11, 10): 6, d(11, 11): 7, d(11, 12): 9, d(11, 13): 9,
                       d(11, 16): 7, d(11, 17): 8, d(11, 18): 9, d(11, 19): 8, d(11, 20): 10, d(11, 21): 9,
                       d(11, 24): 5},
                 {d(10, 27): {"headache": 3}, d(11, 2): {"headache": 3, "dissociation": 0}})
    sessions(bob, d(11, 1), d(11, 8), d(11, 15), hour=12)

    carol = add_patient("carol@example.test", first_name="Carol", last_name="Cole", providers=[users.provider_a],
                        created_at=ENROLLED)
    add_checkins(carol, {d(11, 18): 10}, {d(11, 18): {"dizziness": 1}})
    sessions(carol, d(11, 19), d(11, 21), d(11, 23))

    add_patient("dave@example.test", first_name="Dave", last_name="Dunn", providers=[users.provider_a],
                created_at=datetime(2026, 11, 24, 12, tzinfo=timezone.utc))

    eve = add_patient("eve@example.test", first_name="Eve", last_name="Evans", providers=[users.provider_b],
                      created_at=ENROLLED)
    add_checkins(eve, {d(11, 15): 10, d(11, 16): 12})
    sessions(eve, d(11, 20), d(11, 22), d(11, 25))

    add_patient("frank@example.test", first_name="Frank", last_name="Ford", providers=[users.provider_b],
                created_at=datetime(2026, 10, 1, tzinfo=timezone.utc), status="paused")
    add_patient("gina@example.test", first_name="Gina", last_name="Grey", providers=[users.provider_b])
    return users


# --- Pure measures ---------------------------------------------------------------------------

def test_survival_at_reads_the_step_curve():
    curve = [(0, 1.0), (4, 2 / 3), (5, 1 / 3)]
    assert [durability.survival_at(curve, day) for day in (0, 3, 4, 5, 7)] == [1.0, 1.0, 2 / 3, 1 / 3, 1 / 3]


def test_adherence_counts_days_from_the_start_and_today_once_checked_in():
    logged = {d(11, 25), d(11, 20)}
    assert schedule.adherence(logged, TODAY, 14, start=d(11, 1)) == (2, 14)   # 12-25 Nov
    assert schedule.adherence(logged, TODAY, 14, start=d(11, 20)) == (2, 6)   # 20-25 Nov
    assert schedule.adherence(logged | {TODAY}, TODAY, 14, start=d(11, 1)) == (3, 14)  # 13-26 Nov
    assert schedule.adherence(set(), TODAY, 14, start=TODAY) == (0, 0)
    assert report.Share(0, 0).value is None


@pytest.mark.parametrize("logged, enrolled, lapsed", [
    ({d(11, 22)}, d(11, 1), True),              # 23, 24, 25 missed
    ({d(11, 23)}, d(11, 1), False),
    ({d(11, 22), TODAY}, d(11, 1), True),       # a check-in today does not undo three missed days
    ({d(11, 1)}, d(11, 24), False),             # only 24 and 25 since enrolment
    (set(), d(11, 1), False),                   # never checked in: nothing missed yet (the dashboard's rule)
])
def test_lapsed_means_lapse_days_missed_in_a_row_up_to_yesterday(logged, enrolled, lapsed):
    assert schedule.is_lapsed(logged, TODAY, 3, first_day=enrolled) is lapsed


def test_response_share_leaves_out_insufficient_data():
    def result(responded, status):
        return durability.TreatmentResult(d(11, 1), d(11, 2), None, None, None, None, None, responded, None, None,
                                        status, None)
    share = report.response_share([result(True, "waned"), result(False, "no-response"),
                                   result(None, "insufficient-data"), result(True, "holding")])
    assert share == report.Share(2, 3)


# --- The whole report -----------------------------------------------------------------------

def test_admin_report_measures_match_the_hand_computed_values(app, clinic):
    r = report.build(clinic.admin)

    assert (r.scope, r.patients, r.active_patients) == ("clinic", 7, 6)
    assert r.cohort.treatments == 12 and r.cohort.responding == 4
    assert r.response == report.Share(4, 6)
    assert r.cohort.curve == [(0, 1.0), (4, pytest.approx(2 / 3)), (5, pytest.approx(1 / 3))]
    assert r.cohort.median_duration == 5
    assert r.censored == [3, 9] and (r.events, r.at_risk) == (2, 4)
    assert r.waned_by_7_km == pytest.approx(2 / 3)
    assert r.waned_by_7_count == report.Share(2, 4)
    assert [(p.patient.first_name, p.treatments, p.responding, p.median_duration) for p in r.durations] == [
        ("Alice", 3, 2, 5), ("Bob", 3, 2, 4), ("Carol", 3, 0, None), ("Eve", 3, 0, None)]
    [a14, a30] = r.adherence
    assert (a14.days, a14.patients) == (14, 5) and (a30.days, a30.patients) == (30, 5)
    assert a14.mean == pytest.approx((11 / 14 + 9 / 14 + 1 / 14 + 0 / 2 + 2 / 14) / 5)
    assert a30.mean == pytest.approx((15 / 30 + 22 / 30 + 1 / 30 + 0 / 2 + 2 / 30) / 5)
    assert r.lapsed == 2  # carol and eve
    assert r.three_treatments == report.ThreeTreatments(improved=1, evaluated=2, no_third_treatment=3, no_baseline=1,
                                                    no_checkins=1)
    assert r.three_treatments.share.value == 0.5
    assert r.side_effect_checkins == 15 + 21 + 1 + 2
    rates = {s.key: (s.any_level.count, s.severe.count) for s in r.side_effects}
    assert rates == {"dissociation": (0, 0), "dizziness": (1, 0), "nausea": (1, 1), "headache": (3, 1),
                     "drowsiness": (0, 0), "bladder": (0, 0), "vision": (0, 0)}
    assert {s.any_level.of for s in r.side_effects} == {39}
    # Day 1 change from R, sessions with a check-in on their day 1 inside the interval:
    # alice 6-15, 5-15, 13-15; bob 10-12, 5-12, 7-12.
    day1 = next(c for c in r.cohort.change_by_day if c.day == 1)
    assert (day1.n, day1.mean) == (6, pytest.approx(-35 / 6))


def test_provider_report_covers_only_their_panel(app, clinic):
    r = report.build(clinic.provider_a)  # alice, carol, dave

    assert (r.scope, r.patients, r.active_patients) == ("panel", 3, 3)
    assert r.response == report.Share(2, 3)
    assert r.cohort.median_duration == 5
    assert r.lapsed == 1  # carol
    assert r.three_treatments == report.ThreeTreatments(improved=0, evaluated=1, no_third_treatment=1, no_baseline=1)
    assert r.side_effect_checkins == 16


def test_empty_panel_gives_an_empty_report(app, users):
    r = report.build(add_provider("new@clinic.test"))
    assert r.patients == 0 and r.response.value is None and r.waned_by_7_km is None
    assert r.cohort.median_duration is None and r.lapsed == 0
    assert [a.mean for a in r.adherence] == [None, None]


# --- The page ---------------------------------------------------------------------------------

def test_report_page_plots_every_measure_without_inline_script(client, clinic):
    login(client, clinic.admin)

    response = client.get("/report")

    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for chart in ("survival", "change", "outcomes", "side-effects"):
        # Drawn on the server for the first view (a phone and a wide drawing), and the data
        # for the interactive chart, whose area is outside the picture.
        for width in (340, 720):
            assert re.search(rf'<svg class="chart-svg \w+"[^>]*role="img".*?<clipPath id="{chart}-{width}-clip"', page, re.S)
        assert f'<div id="{chart}" class="chart-area" hidden></div>' in page
        assert f'<script type="application/json" data-chart-for="{chart}">' in page
    for tag in re.findall(r"<script\b[^>]*>", page):
        assert 'type="application/json"' in tag or " src=" in tag, tag
    # plotly.js is fetched only when the reader asks for an interactive chart (static/js/charts.js).
    assert not re.search(r'<script[^>]* src="[^"]*plotly', page)
    assert re.search(r'data-plotly="/static/vendor/plotly-basic-4\.1\.1\.min\.[0-9a-f]{12}\.js"', page)
    assert page.count('<details class="data-table">') == 4
    assert "about 5 days" in page            # the clinic median
    assert "67%" in page and "50%" in page   # waned by day 7: Kaplan-Meier, simple count
    assert 'href="/exports/durability.csv"' in page
    assert f'href="/patients/{clinic.patient_b.id}"' in page


def test_report_view_is_audited(client, clinic):
    login(client, clinic.provider_a)
    client.get("/report")
    [event_] = events("report.viewed")
    assert event_.actor_id == clinic.provider_a.id and event_.detail == "panel, 3 patients"


def test_provider_report_page_names_no_other_panels_patients(client, clinic):
    login(client, clinic.provider_b)
    page = client.get("/report").get_data(as_text=True)
    assert "Bob Baker" in page and "Alice" not in page and "Carol" not in page


def test_patients_get_404_and_visitors_are_sent_to_sign_in(client, users):
    assert "/login" in client.get("/report").headers["Location"]
    login(client, users.patient_a)
    assert client.get("/report").status_code == 404


def test_report_page_renders_for_an_empty_clinic(client, users):
    login(client, users.admin)
    page = client.get("/report").get_data(as_text=True)
    assert "No responding sessions yet" in page and "not yet known" in page
    # Every chart says so in words instead of blank axes, and offers no interactive chart (issue 13).
    assert "<svg" not in page and "Interactive chart" not in page
    assert page.count('<p class="chart-empty">Nothing to chart yet: this fills in as patients check in around '
                      'their sessions.</p>') == 4


def _queries_for_report(client) -> tuple[int, int]:
    """Statements of a view that reads afresh, and of the next (which keeps what it read)."""
    return tuple(len(statements) for statements in page_statements(client, "/report"))


def test_query_count_does_not_grow_with_the_clinic(client, users):
    login(client, users.admin)
    small = _queries_for_report(client)
    for n in range(8):
        p = add_patient(f"p{n}@example.test", last_name=f"P{n}", providers=[users.provider_a])
        add_checkins(p, {-k: (n + k) % 22 for k in range(1, 12)}, {-2: {"nausea": 2}})
        sessions(p, day(-7), day(-4))
    large = _queries_for_report(client)
    # The empty clinic's table lists no patient, the larger one's does: one more statement,
    # the single INSERT of the listed patients' ids for the audit (up to a page of 50).
    assert large == (small[0] + 1, small[1] + 1)
    assert large[1] < large[0]  # the second view kept to the report the first built


def test_the_duration_table_is_paged_by_last_name(client, users, monkeypatch):
    from monitor.provider import report_views
    monkeypatch.setattr(report_views, "DURATIONS_PAGE_SIZE", 2)
    people = [add_patient(f"dur{n}@example.test", last_name=f"Dur{n}") for n in range(3)]
    for person in people:
        add_treatment(person, at_local(day(-3)))
    login(client, users.admin)
    first = client.get("/report").get_data(as_text=True)
    assert "Patients 1–2 of 3, by last name." in first and "Page 1 of 2" in first
    assert 'href="/report?page=2#patients"' in first
    second = client.get("/report?page=2").get_data(as_text=True)
    assert "Patients 3–3 of 3" in second and "Dur2" in second and "Dur0" not in second
    assert "Page 2 of 2" in client.get("/report?page=7").get_data(as_text=True)  # past the end: the last
    bad = client.get("/report?page=x")
    assert bad.status_code == 400 and "Pages are numbered 1, 2, 3 and so on." in bad.get_data(as_text=True)
