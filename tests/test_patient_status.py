"""Pausing, discharging and resuming a patient (SPEC 5): staff with access only, audited, kept
as history; a paused patient gets no nudges and their paused days are never missed."""
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import select

from monitor import nudges
from monitor.extensions import db
from monitor.models import PatientStatusChange, User
from tests.factories import NOW, add_checkin, events, login
from tests.test_nudges import EVENING


def status_of(user) -> str:
    db.session.expire_all()
    return db.session.get(User, user.id).status


def url(patient) -> str:
    return f"/patients/{patient.id}/status"


@pytest.mark.parametrize("who", ["provider_a", "admin"])
def test_staff_with_access_pause_discharge_and_resume(app, client, users, who):
    login(client, getattr(users, who))
    for status in ("paused", "active", "discharged"):
        response = client.post(url(users.patient_a), data={"status": status})
        assert response.status_code == 303
        assert response.headers["Location"] == f"/patients/{users.patient_a.id}"
        assert status_of(users.patient_a) == status
    changes = db.session.scalars(select(PatientStatusChange).order_by(PatientStatusChange.id)).all()
    assert [(c.patient_id, c.status, c.changed_by_id, c.changed_at) for c in changes] == [
        (users.patient_a.id, s, getattr(users, who).id, NOW) for s in ("paused", "active", "discharged")]
    changed = events("patient.status_changed")
    assert [e.detail for e in changed] == ["active -> paused", "paused -> active", "active -> discharged"]
    assert {(e.actor_id, e.target_id) for e in changed} == {(getattr(users, who).id, users.patient_a.id)}


def test_the_patient_page_says_what_changed(app, client, users):
    login(client, users.provider_a)
    page = client.post(url(users.patient_a), data={"status": "paused"}, follow_redirects=True).get_data(as_text=True)
    assert "Monitoring is paused" in page


def test_the_same_status_again_records_nothing(app, client, users):
    login(client, users.provider_a)
    client.post(url(users.patient_a), data={"status": "active"})
    assert db.session.scalars(select(PatientStatusChange)).all() == []


@pytest.mark.parametrize("data", [{}, {"status": ""}, {"status": "deleted"}, {"status": "Paused"}])
def test_an_unknown_status_is_400_and_changes_nothing(app, client, users, data):
    login(client, users.provider_a)
    assert client.post(url(users.patient_a), data=data).status_code == 400
    assert status_of(users.patient_a) == "active"


@pytest.mark.parametrize("who", ["provider_b", "patient_a", "patient_b"])
def test_anyone_else_gets_404_and_nothing_changes(app, client, users, who):
    login(client, getattr(users, who))
    assert client.post(url(users.patient_a), data={"status": "discharged"}).status_code == 404
    assert status_of(users.patient_a) == "active"


def test_signed_out_visitors_are_sent_to_sign_in(app, client, users):
    response = client.post(url(users.patient_a), data={"status": "paused"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert status_of(users.patient_a) == "active"


def test_get_is_not_allowed(app, client, users):
    login(client, users.provider_a)
    assert client.get(url(users.patient_a)).status_code == 405


def test_paused_and_discharged_patients_get_no_nudges_and_resumed_ones_do(app, client, users, smtp):
    login(client, users.provider_a)
    client.post(url(users.patient_a), data={"status": "paused"})
    nudges.run(EVENING)
    client.post(url(users.patient_a), data={"status": "discharged"})
    nudges.run(EVENING + timedelta(days=1))
    assert smtp.recipients == []
    client.post(url(users.patient_a), data={"status": "active"})
    nudges.run(EVENING + timedelta(days=2))
    assert smtp.recipients == ["alice@example.test"]


def test_a_resumed_patient_is_not_lapsed_for_the_days_of_the_pause(app, client, users, smtp):
    add_checkin(users.patient_a, date(2026, 11, 25), 7)
    login(client, users.provider_a)
    client.post(url(users.patient_a), data={"status": "paused"})
    # Resumed on 1 December (the clock of the request is the fixture's; move the record).
    client.post(url(users.patient_a), data={"status": "active"})
    change = db.session.scalars(select(PatientStatusChange).where(PatientStatusChange.status == "active")).one()
    change.changed_at = datetime.fromisoformat("2026-12-01T10:00:00-05:00")
    db.session.commit()
    nudges.run(datetime.fromisoformat("2026-12-02T08:00:00-05:00"))
    assert smtp.messages == []  # only the 1st missed since the return
    nudges.run(datetime.fromisoformat("2026-12-04T08:00:00-05:00"))
    assert [m["To"] for m in smtp.messages] == ["pa@clinic.test"]
