"""Access (SPEC 6): the cases the route walk in test_access_matrix.py cannot show by itself.

That walk visits every route, with every kind of user; here: ids that belong to someone else
inside an allowed URL, ids that do not exist, staff ids used as patient ids, and the audit of
refusals."""
import re
from datetime import datetime, timezone

import pytest

from tests.factories import add_treatment, events, login


@pytest.fixture
def records(users):
    treatment = add_treatment(users.patient_a, datetime(2026, 11, 20, 15, tzinfo=timezone.utc), dose="200")
    return {"patient_id": users.patient_a.id, "treatment_id": treatment.id}


def test_a_treatment_of_another_patient_is_404_even_on_an_allowed_patient(app, users, records):
    other = add_treatment(users.patient_b, datetime(2026, 11, 20, 15, tzinfo=timezone.utc), route="oral", dose="50")
    client = app.test_client()
    login(client, users.provider_a)
    url = f"/patients/{users.patient_a.id}/treatments/{other.id}/edit"
    assert client.get(url).status_code == 404
    assert client.post(url, data={}).status_code == 404


def test_nonexistent_ids_answer_like_forbidden_ones(app, users, records):
    client = app.test_client()
    login(client, users.provider_a)
    forbidden = client.get(f"/patients/{users.patient_b.id}")
    missing = client.get("/patients/999999")
    assert forbidden.status_code == missing.status_code == 404
    # Identical pages, but for the CSRF token, which carries the second it was made.
    token = re.compile(rb'name="csrf_token" value="[^"]*"')
    assert token.sub(b"", forbidden.data) == token.sub(b"", missing.data)


def test_staff_ids_are_not_patients(app, users, records):
    client = app.test_client()
    login(client, users.admin)
    assert client.get(f"/patients/{users.provider_a.id}").status_code == 404


def test_patients_cannot_reach_staff_lists(app, users, records):
    client = app.test_client()
    login(client, users.patient_a)
    for path in ("/patients", "/patients/new"):
        assert client.get(path).status_code == 404


def test_refusals_are_audited(app, users, records):
    client = app.test_client()
    login(client, users.provider_b)
    client.get(f"/patients/{users.patient_a.id}")
    refused = events("access.refused")
    assert [(e.actor_id, e.target_id) for e in refused] == [(users.provider_b.id, users.patient_a.id)]
