"""Treatment sessions moved from /patients/<id>/sessions/... to /patients/<id>/treatments/...
(and the CSV downloads from sessions.csv to treatments.csv). Bookmarks and forms left open
keep working: the old addresses answer 308 Permanent Redirect, which keeps a POST a POST,
and still refuse anyone who may not see the patient."""
import pytest

from monitor.extensions import db
from monitor.models import Treatment
from tests.factories import add_treatment, at_local, day, form_key, login


@pytest.fixture
def treatment(users):
    return add_treatment(users.patient_a, at_local(day(-6)), dose="200", recorded_by=users.provider_a)


@pytest.mark.parametrize("old, new", [
    ("/patients/{p}/sessions", "/patients/{p}/treatments"),
    ("/patients/{p}/sessions/new", "/patients/{p}/treatments/new"),
    ("/patients/{p}/sessions/{t}/edit", "/patients/{p}/treatments/{t}/edit"),
    ("/patients/{p}/export/sessions.csv", "/patients/{p}/export/treatments.csv"),
    ("/exports/sessions.csv", "/exports/treatments.csv"),
])
def test_old_addresses_redirect_permanently_to_the_new_ones(client, users, treatment, old, new):
    login(client, users.provider_a)
    ids = {"p": users.patient_a.id, "t": treatment.id}
    response = client.get(old.format(**ids))
    assert response.status_code == 308
    assert response.headers["Location"] == new.format(**ids)
    assert client.get(new.format(**ids), follow_redirects=True).status_code == 200


def test_a_form_posted_to_the_old_address_is_saved_once(client, users):
    login(client, users.provider_a)
    form = {"administered_at": "2026-11-25T10:00", "route": "lozenge", "dose_mg": "150", "submission_key": form_key("k-old")}
    moved = client.post(f"/patients/{users.patient_a.id}/sessions/new", data=form)
    assert moved.status_code == 308  # the browser sends the same POST again to the new address
    assert moved.headers["Location"] == f"/patients/{users.patient_a.id}/treatments/new"
    response = client.post(moved.headers["Location"], data=form, follow_redirects=True)
    assert "The treatment session is recorded." in response.get_data(as_text=True)
    assert db.session.query(Treatment).filter_by(patient_id=users.patient_a.id).count() == 1


def test_old_addresses_refuse_whoever_may_not_see_the_patient(client, users, treatment):
    login(client, users.provider_b)
    for old in (f"/patients/{users.patient_a.id}/sessions/{treatment.id}/edit",
                f"/patients/{users.patient_a.id}/export/sessions.csv"):
        assert client.get(old).status_code == 404
