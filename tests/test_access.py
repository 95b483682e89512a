"""Access (SPEC 6): walk every route that takes an id, as every kind of user.

A patient reaches only their own data and a provider only their panel; everything else
answers 404, exactly like a record that does not exist. A new route that takes an argument
fails this test until it is given an entry below."""
import re
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from monitor.checkins import save_checkin
from monitor.extensions import db
from monitor.models import Treatment
from tests.conftest import login

REACHED = {200, 302, 303, 400}  # the view ran: a page, a redirect after success, or a form error
ROLES = ["anonymous", "patient_a", "patient_b", "provider_a", "provider_b", "admin"]

# Who may reach each endpoint when it points at patient A's data.
STAFF_OF_A = {"provider_a", "admin"}
ACCESS = {
    "provider.patient": STAFF_OF_A,
    "provider.sessions": STAFF_OF_A,
    "provider.new_session": STAFF_OF_A,
    "provider.edit_session": STAFF_OF_A,
    "provider.invite": STAFF_OF_A,
    "provider.patient_status": STAFF_OF_A,
    "provider.export_durability": STAFF_OF_A,
    "provider.export_checkins": STAFF_OF_A,
    "provider.export_sessions": STAFF_OF_A,
    "patient.checkin_done": {"patient_a"},
    # A made-up token is nobody's: every role gets 404.
    "auth.accept_invitation": set(),
    "auth.reset_password": set(),
    "unsubscribe.confirm": set(),
    "unsubscribe.unsubscribe": set(),
}


@pytest.fixture
def records(users):
    """Patient A's check-in and treatment session, the targets of the walk."""
    day = datetime(2026, 11, 25).date()
    save_checkin(users.patient_a, day, {f"q{i}": 1 for i in range(1, 8)}, {}, None)
    treatment = Treatment(patient_id=users.patient_a.id, administered_at=datetime(2026, 11, 20, 15, tzinfo=timezone.utc),
                          route="lozenge", dose_mg=Decimal("200"))
    db.session.add(treatment)
    db.session.commit()
    return {"patient_id": users.patient_a.id, "treatment_id": treatment.id, "day": day.isoformat(),
            "token": "made-up-token-that-matches-nothing"}


def routes_with_arguments(app):
    for rule in app.url_map.iter_rules():
        if rule.arguments and rule.endpoint != "static":
            yield rule


def test_every_route_with_an_argument_has_an_access_entry(app):
    missing = sorted(r.endpoint for r in routes_with_arguments(app) if r.endpoint not in ACCESS)
    assert missing == [], f"add these endpoints to ACCESS in {__file__}"


@pytest.mark.parametrize("role", ROLES)
def test_walk_every_route_with_each_role(app, users, records, role):
    client = app.test_client()
    if role != "anonymous":
        login(client, getattr(users, role))
    failures = []
    for rule in routes_with_arguments(app):
        url = rule.build({name: records[name] for name in rule.arguments})[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            response = client.open(url, method=method, data={})
            allowed = role in ACCESS[rule.endpoint]
            # Token links (auth., unsubscribe.) are reached signed out: a made-up token is 404.
            if role == "anonymous" and not rule.endpoint.startswith(("auth.", "unsubscribe.")):
                ok = response.status_code == 302 and "/login" in response.headers["Location"]
            elif allowed:
                ok = response.status_code in REACHED
            else:
                ok = response.status_code == 404
            if not ok:
                failures.append(f"{method} {url} as {role}: {response.status_code}")
    assert failures == []


def test_a_treatment_of_another_patient_is_404_even_on_an_allowed_patient(app, users, records):
    other = Treatment(patient_id=users.patient_b.id, administered_at=datetime(2026, 11, 20, 15, tzinfo=timezone.utc),
                      route="oral", dose_mg=Decimal("50"))
    db.session.add(other)
    db.session.commit()
    client = app.test_client()
    login(client, users.provider_a)
    url = f"/patients/{users.patient_a.id}/sessions/{other.id}/edit"
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
    from sqlalchemy import select
    from monitor.models import AuditEvent
    client = app.test_client()
    login(client, users.provider_b)
    client.get(f"/patients/{users.patient_a.id}")
    refused = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).all()
    assert [(e.actor_id, e.target_id) for e in refused] == [(users.provider_b.id, users.patient_a.id)]
