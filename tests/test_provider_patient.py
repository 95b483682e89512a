"""A patient's record as staff see it, and who may see it."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import select

from monitor.extensions import db
from monitor.models import Treatment
from tests.factories import NOW, add_checkin, add_treatment, at_local, edit_treatment, events, login


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


def test_checkins_of_the_last_90_days_newest_first_with_marks(client, users):
    # Each sent on the evening of its own date (on time); the 25th's then replaced today, late:
    # a revision and a late entry.
    for on, total, side_effects in [(date(2026, 11, 20), 7, {"headache": 1}), (date(2026, 11, 25), 0, None),
                                    (date(2026, 8, 29), 4, None),   # day 90 back (today is 26 Nov): shown
                                    (date(2026, 8, 28), 5, None)]:  # 91 days back: not shown by default
        add_checkin(users.patient_a, on, total, side_effects=side_effects, now=at_local(on, 20))
    add_checkin(users.patient_a, date(2026, 11, 25), 16, side_effects={"dissociation": 3}, note="Felt floaty")
    login(client, users.provider_a)
    whole_page = client.get(f"/patients/{users.patient_a.id}").get_data(as_text=True)
    page = whole_page[whole_page.index('id="checkins"'):]

    assert page.index("Wed 25 Nov 2026") < page.index("Fri 20 Nov 2026") < page.index("Sat 29 Aug 2026")
    assert "Fri 28 Aug 2026" not in page
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

    everything = client.get(f"/patients/{users.patient_a.id}?checkins=all").get_data(as_text=True)
    assert "Fri 28 Aug 2026" in everything


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
