"""Property-based tests: whatever is typed or sent into any form or CSV import (control
characters, huge strings, numbers out of range, missing fields), the answer is never a 500;
it is a redirect (saved) or a page with an error message, and a refused submission writes
nothing."""
import io
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from monitor import imports, tokens
from monitor.extensions import db
from tests.factories import add_treatment, login

SETTINGS = settings(max_examples=40, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
# A refused submission may still be audited (a failed sign-in), counted against a rate limit,
# or leave a signed-in session row or Flask's session (a message shown): everything else must
# stay as it was.
NOT_DATA = {"audit_events", "rate_limit_hits", "user_sessions", "web_sessions"}

value = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(max_codepoint=0x1F), max_size=10),  # control characters, NUL
    st.integers().map(str),
    st.sampled_from(["", " ", "0", "-1", "3", "21", "1e309", "NaN", "１２", "2026-11-26", "2026-11-25T10:30",
                     "lozenge", "America/New_York", "on", "off", "19:00", "a@example.test", "💊" * 3]),
    st.integers(min_value=1_000, max_value=200_000).map(lambda n: "9" * n),  # huge
)


def form(*fields):
    """Any subset of the fields, each with any value."""
    return st.fixed_dictionaries({}, optional={name: value for name in fields})


def data_counts() -> dict[str, int]:
    db.session.rollback()
    return {t.name: db.session.scalar(select(func.count()).select_from(t))
            for t in db.metadata.sorted_tables if t.name not in NOT_DATA}


def check(client, method, url, data):
    before = data_counts()
    response = client.open(url, method=method, data=data)
    assert response.status_code < 500, response.status_code
    if response.status_code in (302, 303):
        return response
    assert response.status_code in (200, 400), response.status_code
    assert "error" in response.get_data(as_text=True).lower()
    assert data_counts() == before, "a refused submission wrote something"
    return response


@pytest.fixture
def signed_in(app, users):
    def _client(role):
        client = app.test_client()
        login(client, getattr(users, role))
        return client
    return _client


@SETTINGS
@given(data=form("email", "password", "remember"))
def test_login_never_fails(app, users, data):
    check(app.test_client(), "POST", "/login", data)


@SETTINGS
@given(data=form("email"))
def test_reset_request_never_fails(app, users, data):
    check(app.test_client(), "POST", "/account/reset", data)


@SETTINGS
@given(data=form("password", "confirm"), purpose=st.sampled_from([tokens.INVITATION, tokens.PASSWORD_RESET]))
def test_setting_a_password_never_fails(app, users, data, purpose):
    raw = tokens.issue(users.patient_a, purpose, timedelta(hours=1))
    db.session.commit()
    path = "/account/invitation/" if purpose == tokens.INVITATION else "/account/reset/"
    check(app.test_client(), "POST", path + raw, data)


@SETTINGS
@given(data=form("current_password", "password", "confirm"), role=st.sampled_from(["patient_a", "provider_a"]))
def test_changing_a_password_never_fails(signed_in, data, role):
    check(signed_in(role), "POST", "/account/password", data)


@SETTINGS
@given(data=form("current_password"))
def test_signing_out_elsewhere_never_fails(signed_in, data):
    check(signed_in("patient_a"), "POST", "/account/security/sessions/end-others", data)


CLINIC_FIELDS = ["name", "phone", "timezone", "crisis_text", "mcid", "wane_fraction", "confirm_days",
                 "baseline_window_start", "baseline_window_end", "nadir_window_start", "nadir_window_end", "lapse_days"]


@SETTINGS
@given(data=form(*CLINIC_FIELDS))
def test_clinic_settings_never_fail(signed_in, data):
    check(signed_in("admin"), "POST", "/admin/clinic", data)


@SETTINGS
@given(data=form("email", "first_name", "last_name", "role"))
def test_adding_staff_never_fails(signed_in, data):
    check(signed_in("admin"), "POST", "/admin/staff", data)


CHECKIN_FIELDS = ["local_date", "note", "submission_key"] + [f"q{i}" for i in range(1, 8)] + [
    f"se_{k}" for k in ("dissociation", "dizziness", "nausea", "headache", "drowsiness", "bladder", "vision")]


@SETTINGS
@given(data=form(*CHECKIN_FIELDS))
def test_check_in_never_fails(signed_in, data):
    check(signed_in("patient_a"), "POST", "/checkin", data)


@SETTINGS
@given(data=st.fixed_dictionaries({"q1": st.sampled_from(["0", "1", "2", "3"])}, optional={
    **{f"q{i}": st.sampled_from(["0", "1", "2", "3"]) for i in range(2, 8)}, "note": value, "local_date": st.one_of(st.just("2026-11-26"), value)}))
@example(data={**{f"q{i}": "1" for i in range(1, 8)}, "local_date": "2026-11-26", "note": "a\x00b\x1b[2J"})
def test_nearly_valid_check_ins_are_saved_or_refused_cleanly(signed_in, data):
    check(signed_in("patient_a"), "POST", "/checkin", data)


@SETTINGS
@given(data=form("timezone", "reminder_time", "nudges"))
def test_patient_settings_never_fail(signed_in, data):
    check(signed_in("patient_a"), "POST", "/me/settings", data)


@SETTINGS
@given(data=form("email", "first_name", "last_name", "timezone", "providers"), role=st.sampled_from(["provider_a", "admin"]))
def test_enrolment_never_fails(signed_in, data, role):
    check(signed_in(role), "POST", "/patients/new", data)


SESSION_FIELDS = ["administered_at", "route", "dose_mg", "bp_systolic_before", "bp_diastolic_before",
                  "bp_systolic_after", "bp_diastolic_after", "dissociation_score", "notes", "submission_key"]


@SETTINGS
@given(data=form(*SESSION_FIELDS))
def test_recording_a_session_never_fails(signed_in, users, data):
    check(signed_in("provider_a"), "POST", f"/patients/{users.patient_a.id}/treatments/new", data)


@pytest.fixture
def treatment(users):
    return add_treatment(users.patient_a, datetime(2026, 11, 20, 15, tzinfo=timezone.utc), dose="200").id


@SETTINGS
@given(data=form(*SESSION_FIELDS[:-1]))
def test_editing_a_session_never_fails(signed_in, users, treatment, data):
    check(signed_in("provider_a"), "POST", f"/patients/{users.patient_a.id}/treatments/{treatment}/edit", data)


# --- CSV imports ------------------------------------------------------------------------------

cell = st.one_of(value.filter(lambda v: len(v) < 500), st.just("alice@example.test"), st.just("bob@example.test"))


def csv_text(header: list[str]):
    row = st.lists(cell, min_size=0, max_size=len(header) + 2).map(
        lambda cells: ",".join('"' + c.replace('"', '""') + '"' for c in cells))
    return st.lists(row, max_size=5).map(lambda rows: "\n".join([",".join(header)] + rows) + "\n")


def assert_import_is_atomic(import_function, text, actor):
    before = data_counts()
    outcome = import_function(io.StringIO(text), actor=actor)
    if not outcome.ok:
        assert outcome.problems
        assert data_counts() == before


@SETTINGS
@given(text=st.one_of(csv_text(["patient_email", "date"] + [f"q{i}" for i in range(1, 8)] + ["note"]), st.text(max_size=300)))
def test_a_check_in_import_either_imports_or_writes_nothing(app, users, text):
    assert_import_is_atomic(imports.import_checkins, text, users.admin)


@SETTINGS
@given(text=st.one_of(csv_text(["patient_email", "datetime", "route", "dose_mg", "notes"]), st.text(max_size=300)))
def test_a_session_import_either_imports_or_writes_nothing(app, users, text):
    assert_import_is_atomic(imports.import_treatments, text, users.admin)
