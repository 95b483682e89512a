"""Audit coverage (SPEC 6): each kind of event the log must hold is written with its UTC time,
actor, action, target and the client's IP; and a detail cannot forge lines or formulas.

The client's address is set with environ_base, so a test proves the IP comes from the
request, not from a default."""
import csv
import io
from datetime import date, datetime, timezone

import pytest
from sqlalchemy import select

from monitor.audit import record
from monitor.extensions import db
from monitor.models import AuditEvent, Treatment, User
from tests.factories import NOW, PASSWORD, add_checkin, add_treatment, events, login

IP = "203.0.113.42"


@pytest.fixture
def client(app):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = IP
    return client


def only(action: str) -> AuditEvent:
    found = events(action)
    assert len(found) == 1, f"expected one {action!r} event, found {len(found)}"
    return found[0]


def assert_event(action, *, actor, target_type, target_id) -> AuditEvent:
    event = only(action)
    assert event.at == NOW and event.at.utcoffset().total_seconds() == 0
    assert event.actor_id == getattr(actor, "id", None)
    assert (event.target_type, event.target_id) == (target_type, target_id)
    assert event.ip == IP
    return event


# --- Signing in and out.

def test_login_is_audited(client, users):
    login(client, users.provider_a)
    assert_event("login", actor=users.provider_a, target_type="user", target_id=users.provider_a.id)


def test_failed_login_for_an_unknown_account_is_audited_without_the_address_typed(client, users):
    client.post("/login", data={"email": "nobody@example.test", "password": PASSWORD})
    event = assert_event("login.failed", actor=None, target_type="user", target_id=None)
    assert "nobody" not in (event.detail or "")


def test_failed_login_with_a_wrong_password_is_audited_against_the_account(client, users):
    client.post("/login", data={"email": users.provider_a.email, "password": "not the password"})
    assert_event("login.failed", actor=None, target_type="user", target_id=users.provider_a.id)


def test_logout_is_audited(client, users):
    login(client, users.patient_a)
    client.post("/logout")
    assert_event("logout", actor=users.patient_a, target_type="user", target_id=users.patient_a.id)


# --- Staff views of patient data.

def test_staff_view_of_a_patient_page_is_audited(client, users):
    login(client, users.provider_a)
    assert client.get(f"/patients/{users.patient_a.id}").status_code == 200
    assert_event("patient.viewed", actor=users.provider_a, target_type="patient", target_id=users.patient_a.id)


def test_staff_view_of_the_panel_is_audited(client, users):
    login(client, users.provider_a)
    assert client.get("/patients").status_code == 200
    event = assert_event("dashboard.viewed", actor=users.provider_a, target_type=None, target_id=None)
    assert event.detail == "1 of 1 patients"


def test_staff_view_of_the_report_is_audited(client, users):
    login(client, users.admin)
    assert client.get("/report").status_code == 200
    assert_event("report.viewed", actor=users.admin, target_type=None, target_id=None)


# --- Changes.

def test_recording_a_treatment_session_is_audited(client, users):
    login(client, users.provider_a)
    response = client.post(f"/patients/{users.patient_a.id}/treatments/new", data={
        "administered_at": "2026-11-20T10:00", "route": "lozenge", "dose_mg": "50", "submission_key": "k-1"})
    assert response.status_code == 303
    treatment = db.session.scalar(select(Treatment).where(Treatment.patient_id == users.patient_a.id))
    event = assert_event("treatment.created", actor=users.provider_a, target_type="treatment", target_id=treatment.id)
    assert event.detail == f"patient {users.patient_a.id}"


def test_enrolling_a_patient_is_audited(client, users):
    login(client, users.provider_a)
    response = client.post("/patients/new", data={"email": "carol@example.test", "first_name": "Carol",
                                                  "last_name": "Cole", "timezone": "America/Chicago"})
    assert response.status_code == 303
    carol = db.session.scalar(select(User).where(User.email == "carol@example.test"))
    event = assert_event("patient.enrolled", actor=users.provider_a, target_type="patient", target_id=carol.id)
    assert "carol" not in (event.detail or "").lower()


# --- Exports.

def test_a_csv_export_is_audited(client, users):
    add_checkin(users.patient_a, date(2026, 11, 25), 7)
    login(client, users.provider_a)
    response = client.get(f"/patients/{users.patient_a.id}/export/checkins.csv")
    assert response.status_code == 200
    assert_event("export.checkins", actor=users.provider_a, target_type="patient", target_id=users.patient_a.id)


def test_the_audit_log_export_is_audited(client, users):
    login(client, users.admin)
    assert client.get("/admin/audit.csv").status_code == 200
    assert_event("export.audit", actor=users.admin, target_type=None, target_id=None)


def test_viewing_the_audit_log_is_audited(client, users):
    login(client, users.admin)
    assert client.get("/admin/audit").status_code == 200
    assert_event("audit.viewed", actor=users.admin, target_type=None, target_id=None)


# --- Refusals.

def test_a_refused_patient_of_another_panel_is_audited(client, users):
    login(client, users.provider_b)
    assert client.get(f"/patients/{users.patient_a.id}").status_code == 404
    assert_event("access.refused", actor=users.provider_b, target_type="patient", target_id=users.patient_a.id)


def test_a_refused_treatment_of_another_patient_is_audited(client, users):
    other = add_treatment(users.patient_b, datetime(2026, 11, 20, 15, tzinfo=timezone.utc), route="oral", dose="50")
    login(client, users.provider_a)
    assert client.get(f"/patients/{users.patient_a.id}/treatments/{other.id}/edit").status_code == 404
    assert_event("access.refused", actor=users.provider_a, target_type="treatment", target_id=other.id)


def test_a_patient_refused_a_staff_page_is_audited(client, users):
    login(client, users.patient_a)
    assert client.get("/patients").status_code == 404
    event = assert_event("access.refused", actor=users.patient_a, target_type=None, target_id=None)
    assert event.detail == "GET /patients"


# --- Log injection.

HOSTILE = "ok\r\nat=2026-01-01 actor=1 action=login\x1b[2J\x1b[31m<b>red</b>\x00\u2028end"


@pytest.fixture
def hostile_events(app, users):
    """Details as a crafted value could reach them: line breaks, ANSI escapes, markup, a formula."""
    with app.test_request_context(environ_base={"REMOTE_ADDR": IP}):
        record("test.injected", actor=users.provider_a, detail=HOSTILE)
        record("test.formula", actor=users.provider_a, detail="=cmd|' /C calc'!A0")
        db.session.commit()
    return {e.action: e for e in events() if e.action.startswith("test.")}


def test_control_characters_in_a_detail_are_stored_neutralised(hostile_events):
    stored = hostile_events["test.injected"].detail
    assert not any(ch in stored for ch in "\r\n\x1b\x00\u2028")
    assert stored == "ok??at=2026-01-01 actor=1 action=login?[2J?[31m<b>red</b>??end"
    assert hostile_events["test.injected"].ip == IP


def test_a_hostile_detail_is_shown_escaped_in_the_viewer(client, users, hostile_events):
    login(client, users.admin)
    page = client.get("/admin/audit?action=test").get_data(as_text=True)
    assert "&lt;b&gt;red&lt;/b&gt;" in page and "<b>red</b>" not in page
    assert "\x1b" not in page and "\x00" not in page
    # The forged "record" stays inside its own cell: one table row per event.
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    assert body.count("<tr>") == 2
    assert "=cmd|&#39; /C calc&#39;!A0" in page


def test_a_hostile_detail_is_neutral_in_the_csv(client, users, hostile_events):
    login(client, users.admin)
    text = client.get("/admin/audit.csv?action=test").get_data(as_text=True)
    assert "\x1b" not in text and "\n" not in text.replace("\r\n", "")
    lines = text.split("\r\n")
    assert len(lines) == 4 and lines[-1] == ""  # header, two events, the final line end
    rows = {r["action"]: r for r in csv.DictReader(io.StringIO(text))}
    assert rows["test.formula"]["detail"] == "'=cmd|' /C calc'!A0"
    assert rows["test.injected"]["detail"] == hostile_events["test.injected"].detail
