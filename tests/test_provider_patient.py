"""A patient's record as staff see it, and who may see it."""
import re
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from monitor import dashboard
from monitor.extensions import db
from monitor.models import Treatment
from tests.factories import (NOW, add_checkin, add_checkins, add_treatment, at_local, day, edit_treatment,
                             enrolled_long_ago, events, login)


def test_header_shows_the_patient(client, users):
    login(client, users.provider_a)
    response = client.get(f"/patients/{users.patient_a.id}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in ("Alice Archer", "alice@example.test", "America/New_York", "Active", "Paula Avery"):
        assert text in page
    assert f'href="/patients/{users.patient_a.id}/treatments/new"' in page


def test_sessions_are_listed_in_clinic_time_with_their_details(client, users):
    add_treatment(users.patient_a, datetime(2026, 11, 20, 15, 30, tzinfo=timezone.utc), route="intramuscular",
                  dose="35.50", bp_systolic_before=128, bp_diastolic_before=82, bp_systolic_after=141,
                  bp_diastolic_after=90, dissociation_score=22, notes="Tolerated well")
    login(client, users.provider_a)
    page = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    assert "Fri 20 Nov 2026, 10:30 EST" in page  # the clinic's zone, America/New_York
    assert "Intramuscular" in page
    assert "35.5" in page
    assert "128/82" in page and "141/90" in page
    assert '<td class="num">22</td>' in page
    assert "Tolerated well" in page
    assert "edited" not in page


def test_planned_and_edited_sessions_are_marked(client, users):
    treatment = add_treatment(users.patient_a, datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc), dose="10")
    edit_treatment(treatment, route="intramuscular", dose="35.50", edited_by=users.provider_a)
    login(client, users.provider_a)
    page = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    assert '<span class="badge">planned</span>' in page
    assert '<span class="badge">edited</span>' in page


def test_checkins_of_the_last_14_days_newest_first_with_marks(client, users):
    # Each sent on the evening of its own date (on time); the 25th's then replaced today, late:
    # a revision and a late entry.
    for on, total, side_effects in [(date(2026, 11, 20), 7, {"headache": 1}), (date(2026, 11, 25), 0, None),
                                    (date(2026, 11, 13), 4, None),   # day 14 back (today is 26 Nov): shown
                                    (date(2026, 11, 12), 5, None)]:  # 15 days back: on the next page
        add_checkin(users.patient_a, on, total, side_effects=side_effects, now=at_local(on, 20))
    add_checkin(users.patient_a, date(2026, 11, 25), 16, side_effects={"dissociation": 3}, note="Felt floaty")
    login(client, users.provider_a)
    whole_page = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    page = whole_page[whole_page.index('id="checkins"'):]

    assert "Check-ins, last 14 days" in page
    assert page.index("Wed 25 Nov 2026") < page.index("Fri 20 Nov 2026") < page.index("Fri 13 Nov 2026")
    assert "Thu 12 Nov 2026" not in page
    row = page[page.index("Wed 25 Nov 2026"):]
    row = row[:row.index("</tr>")]
    assert "late entry" in row and "revised" in row
    assert '<td class="num">16</td>' in row and "band-severe" in row
    assert '<strong class="band band-severe">Feeling detached or unreal (dissociation): severe</strong>' in row
    assert "Felt floaty" in row
    assert "<strong>Severe side effect</strong> reported in the latest check-in (Wed 25 Nov 2026)" in whole_page
    older = page[page.index("Fri 20 Nov 2026"):]
    older = older[:older.index("</tr>")]
    assert "Headache: mild" in older and "late entry" not in older and "revised" not in older
    assert f'href="/patients/{users.patient_a.id}?page=2#checkins" rel="next">Older check-ins</a>' in page

    second = client.get(f"/patients/{users.patient_a.id}?page=2").get_data(as_text=True)
    table = second[second.index('id="checkins"'):]
    assert "Check-ins, 30 Oct – 12 Nov 2026" in table
    assert "Thu 12 Nov 2026" in table and "Wed 25 Nov 2026" not in table
    assert f'href="/patients/{users.patient_a.id}#checkins" rel="prev">Newer check-ins</a>' in table
    assert "Older check-ins" not in table and "Page 2 of 2" in table
    # The alert is about the latest check-in, whichever page of the table is shown.
    assert "<strong>Severe side effect</strong> reported in the latest check-in (Wed 25 Nov 2026)" in second


def _checkin_rows(html: str) -> int:
    table = html[html.index('<table aria-label="Check-ins">'):]
    return table[:table.index("</table>")].count("<tr>") - 1  # less the header row


def test_a_year_of_checkins_sends_two_weeks_a_page(client, users):
    add_checkins(users.patient_a, {day(-n): 6 + n % 5 for n in range(365)})
    login(client, users.provider_a)
    pages = [client.get(f"/patients/{users.patient_a.id}" + (f"?page={n}" if n > 1 else "")) for n in (1, 2, 27)]
    assert [r.status_code for r in pages] == [200, 200, 200]
    assert [_checkin_rows(r.get_data(as_text=True)) for r in pages] == [14, 14, 1]  # 365 = 26 x 14 + 1
    assert "Page 27 of 27" in pages[2].get_data(as_text=True)
    assert client.get(f"/patients/{users.patient_a.id}?page=28").status_code == 404


def test_without_checkins_there_is_one_empty_page(client, users):
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    assert "No check-ins in the last 14 days." in html and 'class="pager"' not in html
    assert client.get(f"/patients/{users.patient_a.id}?page=2").status_code == 404


def test_an_empty_fortnight_between_older_and_newer_checkins_says_so(client, users):
    add_checkins(users.patient_a, {day(-30): 9, day(-1): 8})
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}?page=2").get_data(as_text=True)
    assert "No check-ins from 30 Oct to 12 Nov 2026." in html
    assert "Older check-ins" in html and "Newer check-ins" in html


@pytest.mark.parametrize("value", ["0", "-1", "x", "1.5", "", "２", "1e3", "9999999"])
def test_a_page_that_is_not_a_page_number_is_a_clear_400(client, users, value):
    login(client, users.provider_a)
    response = client.get(f"/patients/{users.patient_a.id}?page={value}")
    assert response.status_code == 400
    assert "Pages are numbered 1, 2, 3" in response.get_data(as_text=True)


def test_pages_of_another_providers_patient_are_not_found(client, users):
    add_checkins(users.patient_b, {day(-n): 8 for n in range(40)})
    login(client, users.provider_a)
    for query in ("?page=2", "?page=x", "?page=99", "?treatments=all"):
        response = client.get(f"/patients/{users.patient_b.id}{query}")
        assert response.status_code == 404 and b"Bob" not in response.data


def test_the_latest_ten_sessions_first_and_all_on_request(client, users):
    for n in range(12):
        add_treatment(users.patient_a, NOW - timedelta(days=7 * n + 1), dose=str(30 + n))
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    sessions = html[html.index('<table aria-label="Treatment sessions">'):]
    sessions = sessions[:sessions.index("</table>")]
    assert sessions.count('<tr id="treatment-') == 10
    assert '<td class="num">30</td>' in sessions and '<td class="num">41</td>' not in sessions  # newest first
    durability = html[html.index('<table aria-label="Durability per session">'):]
    assert durability[:durability.index("</table>")].count("<tr>") == 1 + 10
    assert f'href="/patients/{users.patient_a.id}?treatments=all#treatments">Show all 12 sessions</a>' in html

    everything = client.get(f"/patients/{users.patient_a.id}?treatments=all").get_data(as_text=True)
    sessions = everything[everything.index('<table aria-label="Treatment sessions">'):]
    assert sessions[:sessions.index("</table>")].count('<tr id="treatment-') == 12
    assert "Show the latest 10 sessions only" in everything


def test_each_view_is_audited(client, users):
    login(client, users.provider_a)
    client.get(f"/patients/{users.patient_a.id}")
    client.get(f"/patients/{users.patient_a.id}")
    viewed = events("patient.viewed")
    assert len(viewed) == 2
    assert all((e.actor_id, e.target_type, e.target_id) == (users.provider_a.id, "patient", users.patient_a.id)
               for e in viewed)


def test_admin_sees_any_patient(client, users):
    login(client, users.admin)
    assert client.get(f"/patients/{users.patient_b.id}").status_code == 200


def test_another_providers_patient_is_not_found_and_the_refusal_audited(client, users):
    login(client, users.provider_a)
    response = client.get(f"/patients/{users.patient_b.id}")
    assert response.status_code == 404
    assert b"Bob" not in response.data
    assert any(e.target_id == users.patient_b.id for e in events("access.refused"))
    assert events("patient.viewed") == []


def test_staff_id_is_not_a_patient(client, users):
    login(client, users.admin)
    assert client.get(f"/patients/{users.provider_a.id}").status_code == 404


def test_sessions_list_is_reachable(client, users):
    login(client, users.provider_a)
    response = client.get(f"/patients/{users.patient_a.id}/treatments")
    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/patients/{users.patient_a.id}#treatments")
    assert client.get(f"/patients/{users.patient_b.id}/treatments").status_code == 404


def provider_urls(users, treatment_id):
    pid = users.patient_a.id
    return [
        ("get", "/patients"),
        ("get", "/patients/new"),
        ("post", "/patients/new"),
        ("get", f"/patients/{pid}"),
        ("post", f"/patients/{pid}/invite"),
        ("get", f"/patients/{pid}/treatments"),
        ("get", f"/patients/{pid}/treatments/new"),
        ("post", f"/patients/{pid}/treatments/new"),
        ("get", f"/patients/{pid}/treatments/{treatment_id}/edit"),
        ("post", f"/patients/{pid}/treatments/{treatment_id}/edit"),
    ]


@pytest.mark.parametrize("index", range(10))
def test_a_signed_in_patient_gets_404_on_every_provider_url(client, users, index):
    treatment = add_treatment(users.patient_a, NOW - timedelta(days=1), route="intramuscular", dose="35.50")
    method, url = provider_urls(users, treatment.id)[index]
    login(client, users.patient_a)
    data = {"administered_at": "2026-11-20T10:00", "route": "oral", "dose_mg": "99"} if method == "post" else None
    response = getattr(client, method)(url, data=data)
    assert response.status_code == 404
    assert events("access.refused") != []
    db.session.refresh(treatment)
    assert treatment.dose_mg == Decimal("35.50")
    assert len(db.session.scalars(select(Treatment)).all()) == 1


@pytest.mark.parametrize("index", range(10))
def test_a_signed_out_visitor_is_sent_to_sign_in_everywhere(client, users, index):
    method, url = provider_urls(users, 1)[index]
    response = getattr(client, method)(url)
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


# --- The top of the page: what a provider decides on (issue 13).

def _glance(html: str) -> str:
    start = html.index('<section id="at-a-glance"')
    return html[start:html.index("</section>", start)]


def test_the_page_opens_with_the_dashboards_own_flags_before_the_chart(client, users):
    enrolled_long_ago(users.patient_a)
    add_checkins(users.patient_a, {-9: 14, -8: 15, -7: 14, -5: 4, -4: 5, -3: 6, -2: 12},
                 side_effects={-2: {"nausea": 3}})
    add_treatment(users.patient_a, at_local(day(-6), 16))
    login(client, users.provider_a)
    html = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    top = _glance(html)
    row = next(r for r in dashboard.build(users.provider_a).rows if r.patient.id == users.patient_a.id)
    assert {"side-effect", "rising", "missed"} <= row.flags
    assert set(re.findall(r'data-flag="([a-z-]+)"', top)) == row.flags - ({"missed"} if "lapsed" in row.flags else set())
    assert "Days since last session</dt>\n      <dd><strong>6</strong>" in top
    assert html.index('id="at-a-glance"') < html.index('id="timeline-chart-summary"')


def test_a_holding_sessions_wane_date_is_shown_with_its_date(client, users):
    # Two sessions that helped for 4 days and waned on day 5 give a typical duration of 5 days;
    # the third, 2 days ago, still holds: its benefit is expected to wane on day 5.
    enrolled_long_ago(users.patient_a)
    totals = {}
    for start in (-22, -12, -2):
        totals.update({start - 3: 15, start - 2: 15, start - 1: 15})
        totals.update({start + n: 4 for n in range(1, 5) if start + n <= 0})
        totals.update({start + n: 15 for n in (5, 6) if start + n <= 0})
        add_treatment(users.patient_a, at_local(day(start), 16))
    add_checkins(users.patient_a, totals)
    login(client, users.provider_a)
    top = _glance(client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True))
    assert "Wane expected" in top and f"{day(3):%a %-d %b}" in top
    assert "about 5 days" in top


def test_a_new_patients_page_says_there_is_nothing_yet(client, users):
    login(client, users.provider_a)
    top = _glance(client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True))
    assert "No sessions yet" in top and "Not known yet" in top and top.count("None yet") == 2
