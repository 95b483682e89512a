"""The triage dashboard at GET /patients: who is on it, what each row says, the order, the flag
filter, the name search (never in a URL), and a fixed number of queries whatever the panel's size."""
import dataclasses
import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from monitor.extensions import db
from monitor.models import SEVERE_SIDE_EFFECT_SQL, Clinic
from monitor import dashboard
from monitor import timeutil
from tests.factories import (
    NOW, TODAY, add_checkin, add_checkins, add_patient, add_provider, add_treatment, at_local, counted_queries, day,
    enrolled_long_ago, events, executed_statements, login, page_statements,
)


@contextmanager
def freeze(at):
    timeutil.freeze(at)
    try:
        yield
    finally:
        timeutil.freeze(NOW)


def row_for(board, patient):
    [row] = [r for r in board.rows if r.patient.id == patient.id]
    return row


def page_of(client, url="/patients") -> str:
    response = client.get(url)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def row_html(page: str, patient) -> str:
    row = page[page.index('id="patient-%d"' % patient.id):]
    return row[:row.index("</tr>")]


def listed(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="patient-(\d+)"', page)]


# --- Who is on it.

def test_provider_sees_own_patients_only(client, users):
    login(client, users.provider_a)
    page = page_of(client)
    assert "Archer, Alice" in page
    assert "Baker" not in page


def test_admin_sees_every_patient_with_their_providers(client, users):
    login(client, users.admin)
    page = page_of(client)
    assert "Archer, Alice" in page and "Baker, Bob" in page
    assert "Paula Avery" in page and "Peter Brook" in page


def test_patient_gets_404_for_the_panel_and_the_search(client, users):
    login(client, users.patient_a)
    assert client.get("/patients").status_code == 404
    assert client.post("/patients/search", data={"q": "Archer"}).status_code == 404


def test_signed_out_visitor_is_sent_to_sign_in(client, users):
    response = client.get("/patients")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_panel_view_is_audited_without_the_search_text_or_the_flag(client, users):
    login(client, users.provider_a)
    client.post("/patients/search", data={"q": "Archer"})
    client.get("/patients?flag=missed")
    viewed = events("dashboard.viewed")
    assert [e.actor_id for e in viewed] == [users.provider_a.id]
    # Which flag is left out too: next to the ids of the patients shown it would say which
    # of them were missed, lapsed or rising (monitor/provider/dashboard_views.py).
    assert viewed[0].detail == "0 of 1 patients, flag filter, name search"
    assert "Archer" not in viewed[0].detail


# --- What each row says.

def test_rows_show_latest_total_band_and_days_since_last_past_session(app, users):
    patient = users.patient_a
    add_checkin(patient, date(2026, 11, 20), 3)
    add_checkin(patient, date(2026, 11, 25), 16)
    add_treatment(patient, datetime(2026, 11, 18, 15, 0, tzinfo=timezone.utc))
    add_treatment(patient, datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc))
    add_treatment(patient, datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc))  # planned: not "since"

    row = row_for(dashboard.build(users.provider_a), patient)

    assert (row.latest_date, row.latest_total, row.band.key) == (date(2026, 11, 25), 16, "severe")
    assert row.days_since_treatment == 4
    assert "severe" in row.flags
    assert row.invitation_pending is False


def test_days_since_session_count_the_patients_calendar_days(app, users):
    patient = add_patient("la@example.test", first_name="Lee", last_name="Angel",
                          timezone="America/Los_Angeles", providers=[users.provider_a])
    # 02:00 UTC on the 26th is 18:00 on the 25th in Los Angeles; now it is 07:00 on the 26th there.
    add_treatment(patient, datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc))

    assert row_for(dashboard.build(users.provider_a), patient).days_since_treatment == 1


def test_row_without_data_says_so(client, users):
    login(client, users.provider_a)
    row = row_html(page_of(client), users.patient_a)
    assert "No check-ins" in row
    assert "No check-ins in 30 days" in row
    assert "No sessions" in row
    assert "unknown" in row
    assert "0% (0/14)" in row
    assert "<svg" not in row


def test_page_shows_the_row_values(client, users):
    enrolled_long_ago(users.patient_a)
    add_checkins(users.patient_a, {-13: 14, -2: 10, -1: 12})
    add_treatment(users.patient_a, at_local(day(-3)))
    login(client, users.provider_a)
    row = row_html(page_of(client), users.patient_a)
    assert "<strong>12</strong>" in row
    assert "band-moderate" in row and "Moderate" in row
    assert "Wed 25 Nov 2026" in row
    assert '<td class="num" data-label="Days since session">3</td>' in row
    assert "21% (3/14)" in row
    assert 'aria-label="Trend of the last 30 days: from 14 to 12 (3 check-ins)"' in row
    assert "<polyline" in row
    assert "Active" in row


def test_typical_duration_is_the_patients_median_in_days(client, users):
    enrolled_long_ago(users.patient_a)
    # SPEC 4's worked example, day 0 twelve days ago: the session waned on day 5.
    add_checkins(users.patient_a, {-15: 15, -14: 16, -13: 14, -11: 6, -10: 5, -9: 7, -8: 8, -7: 9, -6: 11})
    add_treatment(users.patient_a, at_local(day(-12)))
    add_checkins(users.patient_a, {n: 11 for n in range(-5, 1)})
    login(client, users.provider_a)
    row = row_html(page_of(client), users.patient_a)
    assert "about 5 days (1 responding session)" in row
    assert 'data-flag="waning"' in row


def test_severe_side_effect_in_the_last_seven_days_is_flagged(client, users):
    enrolled_long_ago(users.patient_a)
    add_checkin(users.patient_a, day(-6), 5, side_effects={"nausea": 3})
    add_checkin(users.patient_a, day(-1), 5, side_effects={"nausea": 1})
    login(client, users.provider_a)
    row = row_html(page_of(client), users.patient_a)
    assert 'data-flag="side-effect"' in row
    assert "Severe side effect Fri 20 Nov" in row


def test_severe_side_effect_seven_days_ago_or_a_moderate_one_is_not_flagged(client, users):
    enrolled_long_ago(users.patient_a)
    add_checkin(users.patient_a, day(-7), 5, side_effects={"nausea": 3})
    add_checkin(users.patient_a, day(-1), 5, side_effects={"dizziness": 2, "vision": 2})
    login(client, users.provider_a)
    assert 'data-flag="side-effect"' not in row_html(page_of(client), users.patient_a)


def test_missed_and_side_effects_use_the_patients_own_calendar(app, users):
    # At NOW it is already 04:00 on 27 November in Auckland: the 26th is the patient's yesterday.
    kiwi = add_patient("kiwi@example.test", first_name="Kiri", last_name="Ngata",
                       timezone="Pacific/Auckland", providers=[users.provider_a])
    kiwi.created_at = NOW - timedelta(days=200)
    enrolled_long_ago(users.patient_a)
    add_checkin(kiwi, date(2026, 11, 21), 5, side_effects={"headache": 3})   # their day -6
    add_checkin(kiwi, date(2026, 11, 26), 5)
    add_checkin(users.patient_a, date(2026, 11, 20), 5, side_effects={"headache": 3})  # New York's day -6
    add_checkin(users.patient_a, date(2026, 11, 24), 5)

    board = dashboard.build(users.provider_a)
    auckland, new_york = row_for(board, kiwi), row_for(board, users.patient_a)
    assert auckland.today == date(2026, 11, 27)
    assert not auckland.flags & {"missed", "lapsed"}
    assert auckland.side_effect_on == date(2026, 11, 21)
    assert new_york.flags >= {"missed", "side-effect"}
    assert new_york.missed_days == 1


def test_lapsed_active_patient_is_flagged_and_paused_is_not(client, users):
    paused = add_patient("paused@example.test", first_name="Pat", last_name="Pause",
                         providers=[users.provider_a])
    paused.status = "paused"
    enrolled_long_ago(users.patient_a, paused)
    add_checkins(users.patient_a, {-5: 6, -4: 6})
    add_checkins(paused, {-5: 6, -4: 6})
    login(client, users.provider_a)
    page = page_of(client)
    lapsed = row_html(page, users.patient_a)
    assert 'data-flag="lapsed"' in lapsed and "Lapsed: 3 days missed" in lapsed
    assert 'data-flag="missed"' not in lapsed  # the lapsed badge says it
    resting = row_html(page, paused)
    assert 'data-flag="lapsed"' not in resting and 'data-flag="missed"' not in resting
    assert "Paused: no check-ins expected" in resting


def test_lapse_days_is_the_clinics_setting(app, users):
    enrolled_long_ago(users.patient_a)
    add_checkins(users.patient_a, {-5: 6, -4: 6})
    clinic = db.session.scalar(select(Clinic)) or Clinic()
    clinic.lapse_days = 4
    db.session.add(clinic)
    db.session.commit()
    row = row_for(dashboard.build(users.provider_a), users.patient_a)
    assert "missed" in row.flags and "lapsed" not in row.flags


def test_rising_and_wane_expected_badges(client, users):
    enrolled_long_ago(users.patient_a)
    # Reference 15, nadir 5 on day 1 of a session four days ago (threshold 9), then 6, 6 and today 10:
    # rising by 5, but one day at 10 does not confirm a wane, so the session is holding. Alice has
    # no typical duration of her own; the clinic's is 5 days, from Olga's session that waned on day 5.
    add_checkins(users.patient_a, {-7: 15, -6: 15, -5: 15, -3: 5, -2: 6, -1: 6, 0: 10})
    add_treatment(users.patient_a, at_local(day(-4)))
    other = add_patient("o@example.test", first_name="Olga", last_name="Other", providers=[users.provider_a])
    enrolled_long_ago(other)
    add_checkins(other, {-25: 15, -24: 16, -23: 14, -21: 6, -20: 5, -19: 7, -18: 8, -17: 9, -16: 11})
    add_treatment(other, at_local(day(-22)))
    login(client, users.provider_a)
    row = row_html(page_of(client), users.patient_a)
    assert "Rising: +5 in 3 days" in row
    assert "Wane expected Fri 27 Nov" in row  # the session's day 5
    # Still holding two days later: the expected date has passed.
    add_checkins(users.patient_a, {1: 6, 2: 6})
    with freeze(NOW + timedelta(days=2)):
        login(client, users.provider_a)  # two days idle: the 15-minute staff session has ended
        later = row_html(page_of(client), users.patient_a)
    assert "Wane expected since Fri 27 Nov" in later
    assert 'data-flag="waning"' not in row


def test_wane_expected_falls_back_on_the_clinics_typical_duration_not_the_panels(client, users):
    """SPEC 4: patient median, else the cohort median, over every patient's responding sessions.
    Alice (provider A's only patient) has no typical duration of her own; Olga, on provider B's
    panel, has one of 5 days, and that is the clinic's."""
    enrolled_long_ago(users.patient_a)
    add_checkins(users.patient_a, {-7: 15, -6: 15, -5: 15, -3: 5, -2: 6, -1: 6, 0: 6})
    add_treatment(users.patient_a, at_local(day(-4)))
    login(client, users.provider_a)
    assert "Wane expected" not in row_html(page_of(client), users.patient_a)  # nobody's median yet

    other = add_patient("o@example.test", first_name="Olga", last_name="Other", providers=[users.provider_b])
    enrolled_long_ago(other)
    add_checkins(other, {-25: 15, -24: 16, -23: 14, -21: 6, -20: 5, -19: 7, -18: 8, -17: 9, -16: 11})
    add_treatment(other, at_local(day(-22)))
    page = page_of(client)
    assert listed(page) == [users.patient_a.id]  # Olga stays off provider A's panel
    assert "Wane expected Fri 27 Nov" in row_html(page, users.patient_a)


def test_the_clinic_median_follows_every_write_without_rereading_the_clinic(app, users):
    """From the stored analyses (monitor/stored_analysis.py): never a stale answer, and a few
    small queries when nothing changed."""
    from monitor import analysis, stored_analysis
    from monitor.clinic import get_clinic
    settings = analysis.settings_for(get_clinic())
    enrolled_long_ago(users.patient_b)
    add_checkins(users.patient_b, {-25: 15, -24: 16, -23: 14, -21: 6, -20: 5, -19: 7, -18: 8, -17: 9, -16: 11})
    add_treatment(users.patient_b, at_local(day(-22)))
    assert stored_analysis.clinic_median_duration(settings, NOW) == 5
    with counted_queries() as statements:
        assert stored_analysis.clinic_median_duration(settings, NOW) == 5
    # The zones in use, the stale patients (none), the counts' check, the counts: no history,
    # and no row per patient.
    assert len(statements) == 4
    # A replaced check-in (day 4 now 12, at or above the threshold of 9) moves the wane to day 4.
    add_checkin(users.patient_b, day(-18), 12)
    assert stored_analysis.clinic_median_duration(settings, NOW) == 4
    # Other settings are another answer: four confirming days (4..7) are not all there.
    stricter = dataclasses.replace(settings, confirm_days=4)
    assert stored_analysis.clinic_median_duration(stricter, NOW) is None
    assert stored_analysis.clinic_median_duration(settings, NOW) == 4


# --- Order.

def test_rows_are_ordered_by_need_of_attention_then_last_name(client, users):
    provider = users.provider_a
    quiet_b = add_patient("qb@example.test", first_name="Q", last_name="bQuiet", providers=[provider])
    quiet_z = add_patient("qz@example.test", first_name="Q", last_name="Zed", providers=[provider])
    missed = add_patient("m@example.test", first_name="M", last_name="Missed", providers=[provider])
    lapsed = add_patient("l@example.test", first_name="L", last_name="Lapsed", providers=[provider])
    severe = add_patient("s@example.test", first_name="S", last_name="Severe", providers=[provider])
    side = add_patient("e@example.test", first_name="E", last_name="Effect", providers=[provider])
    enrolled_long_ago(users.patient_a, quiet_b, quiet_z, missed, lapsed, severe, side)
    for p in (users.patient_a, quiet_b, quiet_z):
        add_checkins(p, {-2: 6, -1: 6})
    add_checkins(missed, {-3: 6, -2: 6})
    add_checkins(lapsed, {-6: 6, -5: 6})
    add_checkins(severe, {-2: 16, -1: 16})
    add_checkins(side, {-2: 6})
    add_checkin(side, day(-1), 6, side_effects={"dissociation": 3})
    login(client, provider)
    assert listed(page_of(client)) == [side.id, severe.id, lapsed.id, missed.id,
                                       users.patient_a.id, quiet_b.id, quiet_z.id]


# --- Filter by flag.

def test_flag_filter_shows_only_flagged_patients(client, users):
    enrolled_long_ago(users.patient_a)
    lapsed = add_patient("l@example.test", first_name="L", last_name="Lapsed", providers=[users.provider_a])
    enrolled_long_ago(lapsed)
    add_checkins(users.patient_a, {-1: 5})
    add_checkins(lapsed, {-9: 5})
    login(client, users.provider_a)
    page = page_of(client, "/patients?flag=lapsed")
    assert listed(page) == [lapsed.id]
    assert 'aria-current="page">Lapsed (1)' in page
    assert ">All (2)" in page
    assert listed(page_of(client, "/patients?flag=missed")) == [lapsed.id]


def test_flag_filter_with_no_match_says_so(client, users):
    login(client, users.provider_a)
    page = page_of(client, "/patients?flag=waning")
    assert listed(page) == []
    assert "No patients match the filter “Waning now”." in page


@pytest.mark.parametrize("flag", ["nonsense", "WANING", "<script>", "waning%00"])
def test_unknown_flag_shows_everyone_with_a_message(client, users, flag):
    login(client, users.provider_a)
    response = client.get("/patients", query_string={"flag": flag})
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "There is no filter by that name, so every patient is shown." in page
    assert listed(page) == [users.patient_a.id]
    assert "<script>" not in page


# --- Search by name.

def test_search_is_a_post_that_redirects_without_the_name(client, users):
    other = add_patient("z@example.test", first_name="Zoe", last_name="Zimmer", providers=[users.provider_a])
    login(client, users.provider_a)
    response = client.post("/patients/search", data={"q": "  arCH "})
    assert response.status_code == 303
    assert response.headers["Location"] == "/patients"
    page = page_of(client)
    assert listed(page) == [users.patient_a.id]
    assert "Showing patients whose name contains “arCH”: 1 of 2." in page
    assert 'value="arCH"' in page
    assert other.id not in listed(page)


def test_search_keeps_the_flag_but_never_puts_the_name_in_a_url(client, users):
    enrolled_long_ago(users.patient_a)
    add_checkins(users.patient_a, {-3: 5})
    login(client, users.provider_a)
    response = client.post("/patients/search", data={"q": "Alice", "flag": "missed"})
    assert response.headers["Location"] == "/patients?flag=missed"
    page = page_of(client, "/patients?flag=missed")
    assert listed(page) == [users.patient_a.id]
    urls = re.findall(r'(?:href|action|src)="([^"]*)"', page)
    assert urls and not [u for u in urls if "alice" in u.lower()]
    assert 'method="post" action="/patients/search"' in page
    # A made-up flag is not carried into the address either.
    assert client.post("/patients/search", data={"q": "x", "flag": "Alice"}).headers["Location"] == "/patients"


def test_search_with_no_match_and_clearing_it(client, users):
    login(client, users.provider_a)
    client.post("/patients/search", data={"q": "Nobody"})
    page = page_of(client)
    assert listed(page) == []
    assert "No patients match the name “Nobody”." in page
    assert 'name="clear"' in page
    response = client.post("/patients/search", data={"q": "Nobody", "clear": "1"})
    assert response.status_code == 303
    page = page_of(client)
    assert listed(page) == [users.patient_a.id]
    assert 'name="clear"' not in page


def test_an_empty_search_clears_it(client, users):
    login(client, users.provider_a)
    client.post("/patients/search", data={"q": "Nobody"})
    client.post("/patients/search", data={"q": "   "})
    assert listed(page_of(client)) == [users.patient_a.id]


def test_search_is_kept_in_the_session_for_this_account_only(client, users):
    login(client, users.admin)
    client.post("/patients/search", data={"q": "Baker"})
    assert listed(page_of(client)) == [users.patient_b.id]
    with client.session_transaction() as saved:
        assert saved["dashboard_search"] == {"user": users.admin.id, "text": "Baker"}
    client.post("/logout")
    login(client, users.provider_b)  # same browser, another account
    page = page_of(client)
    assert listed(page) == [users.patient_b.id]
    assert "Baker" in page and "whose name contains" not in page


def test_search_form_needs_a_csrf_token(app, client, users):
    login(client, users.provider_a)
    app.config["WTF_CSRF_ENABLED"] = True
    try:
        response = client.post("/patients/search", data={"q": "Archer"})
    finally:
        app.config["WTF_CSRF_ENABLED"] = False
    assert response.status_code == 400
    with client.session_transaction() as saved:
        assert "dashboard_search" not in saved


def test_get_parameters_do_not_search(client, users):
    login(client, users.provider_a)
    assert listed(page_of(client, "/patients?q=Nobody")) == [users.patient_a.id]


# --- Empty states and the legend.

def test_empty_panel_says_so(client, users):
    provider = add_provider("lonely@clinic.test", first_name="Lo", last_name="Nely")
    login(client, provider)
    page = page_of(client)
    assert "There are no patients on your panel yet." in page
    assert "<table" not in page


def test_legend_explains_every_flag_with_the_clinics_settings(client, users):
    login(client, users.provider_a)
    page = page_of(client)
    legend = page[page.index('id="legend"'):]
    for label in ("Severe side effect", "Severe band", "Waning now", "Lapsed", "No response", "Rising",
                  "Wane expected", "Missed yesterday"):
        assert f">{label}</span></dt>" in legend
    assert "at least 4 points above the lowest total of the 3 days before" in legend
    assert "missed 3 or more days in a row" in legend


def test_invitation_pending_and_status_are_shown(client, users):
    newcomer = add_patient("new@example.test", first_name="Nina", last_name="Newcomb", password=False,
                           providers=[users.provider_a])
    users.patient_a.status = "paused"
    db.session.commit()
    login(client, users.provider_a)
    page = page_of(client)
    assert "invitation pending" in row_html(page, newcomer)
    archer = row_html(page, users.patient_a)
    assert "invitation pending" not in archer
    assert "Paused" in archer


# --- A fixed number of queries.

def _grow_panel(provider, start: int, count: int) -> None:
    """Patients with check-ins, severe side effects, past and planned sessions, and varied flags."""
    for n in range(start, start + count):
        patient = add_patient(f"p{n}@example.test", first_name=f"P{n}", last_name=f"Panel{n:03d}",
                              providers=[provider], password=n % 2 == 0)
        patient.created_at = NOW - timedelta(days=60)
        if n % 4 == 1:
            patient.status = "paused"
        for k in range(-20, 1 - n % 5):
            add_checkin(patient, day(k), (n + k * 3) % 22,
                        side_effects={"headache": 3 if (n + k) % 7 == 0 else None})
        add_treatment(patient, at_local(day(-12)))
        add_treatment(patient, at_local(day(-4 - n % 3)))
        add_treatment(patient, at_local(day(3)))


def _queries_for_panel(client, url="/patients") -> tuple[int, int]:
    """Statements of a view that reads the panel (the worker's kept panel dropped first), and
    of the next view, which keeps to what that one read."""
    return tuple(len(statements) for statements in page_statements(client, url))


def test_query_count_does_not_grow_with_the_panel(client, users):
    login(client, users.provider_a)
    _grow_panel(users.provider_a, 0, 1)  # with patient_a: 2 patients
    small = _queries_for_panel(client)
    _grow_panel(users.provider_a, 1, 13)  # 15 patients
    large = _queries_for_panel(client)
    page = page_of(client)
    assert len(listed(page)) == 15
    assert page.count('<svg class="sparkline"') == 14  # patient_a has no check-ins
    assert 'data-flag="side-effect"' in page
    assert large == small
    assert small[1] < small[0]  # the second view kept to the panel the first read


def test_on_postgresql_the_panels_ids_are_one_parameter_whatever_its_size(client, users):
    """Issue 9: a panel's ids are sent as one array (monitor/sql.among), not one parameter each,
    so the statements a dashboard sends are the same text for 2 patients and for 15 (with 500,
    rendering and converting 500 parameters cost more than the queries)."""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no arrays: it binds a list's ids one by one, cheaply")
    login(client, users.provider_a)
    _grow_panel(users.provider_a, 0, 1)
    small = page_statements(client, "/patients")
    _grow_panel(users.provider_a, 1, 13)
    large = page_statements(client, "/patients")
    # The audit's INSERT of the listed patients is one row per patient shown, by design.
    def reads(statements):
        return [s for s in statements if not s.lstrip().upper().startswith("INSERT")]
    assert [reads(s) for s in large] == [reads(s) for s in small]


def test_query_count_does_not_grow_with_a_filter_and_a_search(client, users):
    login(client, users.provider_a)
    _grow_panel(users.provider_a, 0, 1)
    client.post("/patients/search", data={"q": "P"})
    small = _queries_for_panel(client, "/patients?flag=missed")
    _grow_panel(users.provider_a, 1, 13)
    # The small page lists no patient, the large one some: one more statement, the single
    # INSERT of the listed patients' ids for the audit (however many, up to a page of 50).
    assert _queries_for_panel(client, "/patients?flag=missed") == (small[0] + 1, small[1] + 1)


def test_admin_query_count_does_not_grow_with_the_clinic(client, users):
    login(client, users.admin)
    small = _queries_for_panel(client)  # patient_a and patient_b
    _grow_panel(users.provider_a, 0, 7)
    _grow_panel(users.provider_b, 7, 6)
    large = _queries_for_panel(client)
    assert len(listed(page_of(client))) == 15
    assert large == small


def test_days_paused_between_courses_are_not_missed_after_a_return(client, users):
    """The dashboard counts missed days from the last return to "active", like the digest."""
    enrolled_long_ago(users.patient_a)
    add_checkins(users.patient_a, {-10: 8})
    login(client, users.provider_a)
    status_url = f"/patients/{users.patient_a.id}/status"
    client.post(status_url, data={"status": "paused"})
    assert "lapsed" not in row_for(dashboard.build(users.provider_a), users.patient_a).flags
    # Back to active yesterday: only yesterday counts as missed, the ten paused days do not.
    with freeze(NOW - timedelta(days=1)):
        client.post(status_url, data={"status": "active"})
    row = row_for(dashboard.build(users.provider_a), users.patient_a)
    assert row.missed_days == 1
    assert "missed" in row.flags and "lapsed" not in row.flags


@pytest.mark.parametrize("utc_hour, checked_in, status, expected", [
    (15, False, "active", "pending"),       # 10:00 in New York, reminder at 19:00
    (23, False, "active", "pending"),       # 18:00 in New York
    (0, False, "active", "late"),           # 00:00 UTC on the 27th is 19:00 on the 26th in New York
    (15, True, "active", "done"),
    (15, False, "paused", "not-expected"),
])
def test_dashboard_shows_todays_state_in_the_patients_zone(users, utc_hour, checked_in, status, expected):
    at = datetime(2026, 11, 27 if utc_hour == 0 else 26, utc_hour, tzinfo=timezone.utc)
    users.patient_a.status = status
    db.session.commit()
    if checked_in:
        add_checkin(users.patient_a, TODAY, 5)
    with freeze(at):
        row = row_for(dashboard.build(users.provider_a, now=at), users.patient_a)
    assert row.today == TODAY
    assert row.today_state == expected


# --- Pages: a large panel shows the most urgent first, PAGE_SIZE at a time.

def test_a_large_panel_is_paged_most_urgent_first(client, users, monkeypatch):
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 3)
    patients = [add_patient(f"paged{n}@example.test", last_name=f"Paged{n}", providers=[users.provider_a])
                for n in range(5)]
    enrolled_long_ago(*patients)
    add_checkins(patients[3], {0: 16})  # severe: the most urgent
    login(client, users.provider_a)
    first = page_of(client)
    everyone = listed(first) + listed(page_of(client, "/patients?page=2"))
    assert listed(first)[0] == patients[3].id and len(listed(first)) == 3
    assert sorted(everyone) == sorted([users.patient_a.id, *(p.id for p in patients)])  # each once
    assert "1–3 of 6" in first and 'rel="next"' in first and "Page 1 of 2" in first
    assert "Page 2 of 2" in page_of(client, "/patients?page=9")  # past the end: the last page
    assert 'href="/patients?page=2"' in first


@pytest.mark.parametrize("page", ["0", "-1", "two", "1.5", "٣", " 2"])
def test_a_page_that_is_not_a_page_number_says_so(client, users, page):
    login(client, users.provider_a)
    response = client.get("/patients", query_string={"page": page})
    assert response.status_code == 400
    assert "Pages are numbered 1, 2, 3 and so on." in response.get_data(as_text=True)


def test_only_the_rows_on_the_page_get_a_sparkline(app, users, monkeypatch):
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 1)
    other = add_patient("second@example.test", providers=[users.provider_a])
    add_checkins(users.patient_a, {-1: 5, 0: 6})
    add_checkins(other, {-1: 7, 0: 8})
    shown = dashboard.build(users.provider_a, now=NOW)
    assert len(shown.rows) == 1 and shown.pages == 2 and "<svg" in shown.rows[0].trend


def test_the_severe_side_effect_query_is_answered_from_its_partial_index(client, users):
    """The flag's check-ins are found through ix_checkins_severe (migration 0016), which the
    databases use only when the query's condition is the index's own: a reworded condition
    would silently read every check-in of the window again."""
    add_checkin(users.patient_a, TODAY, 12, side_effects={"nausea": 3})
    db.session.commit()
    login(client, users.provider_a)
    with executed_statements() as executed:
        page = client.get("/patients").get_data(as_text=True)
    assert "Severe side effect" in page
    [(statement, parameters)] = [(s, p) for s, p in executed if SEVERE_SIDE_EFFECT_SQL in s]
    with db.engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("set enable_seqscan = off")  # a test's few rows would be read whole
            plan = conn.exec_driver_sql("explain " + statement, parameters).all()
        else:
            plan = conn.exec_driver_sql("explain query plan " + statement, parameters).all()
    assert "ix_checkins_severe" in " ".join(str(step) for step in plan)
