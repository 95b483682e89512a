"""Access matrix (SPEC 6): every route in the app, GET and POST, as each of six principals.

Arguments point at patient A's records (A's id, A's treatment session, the date of A's
check-in) or at a made-up token. Each answer falls in one outcome class:

  ok     the view ran and answered 200, 302, 303, 308 or 400 (a page, a redirect after
         success or from an address that moved, a form error: empty POSTs are expected to be
         refused, never to fail with a 500)
  login  a redirect to /login (signed out)
  404    refused exactly like a record that does not exist
  405    the address does not take that method

A route that is in the app but not in EXPECTED fails the test with its endpoint's name, so a
new page cannot be added without deciding who may reach it."""
from datetime import date, datetime, timezone
from functools import wraps
from urllib.parse import urlsplit

import pytest
from flask import g
from flask_login import user_unauthorized
from werkzeug.exceptions import MethodNotAllowed, NotFound

from monitor.extensions import db
from tests.factories import add_checkin, add_standard_gad7, add_treatment, login

PRINCIPALS = ["anonymous", "patient_a", "patient_b", "provider_a", "provider_b", "admin"]
METHODS = ["GET", "POST"]
REACHED = {200, 302, 303, 308, 400}


def outcomes(anonymous, patient_a, patient_b, provider_a, provider_b, admin) -> dict[str, str]:
    return dict(anonymous=anonymous, patient_a=patient_a, patient_b=patient_b,
                provider_a=provider_a, provider_b=provider_b, admin=admin)


# Groups: who may reach a route when its arguments point at patient A's data.
PUBLIC = outcomes("ok", "ok", "ok", "ok", "ok", "ok")
SIGNED_IN = outcomes("login", "ok", "ok", "ok", "ok", "ok")
TOKEN_NOBODYS = outcomes("404", "404", "404", "404", "404", "404")  # a made-up token is nobody's
PATIENTS = outcomes("login", "ok", "ok", "404", "404", "404")
PATIENT_SELF = outcomes("login", "ok", "404", "404", "404", "404")
STAFF = outcomes("login", "404", "404", "ok", "ok", "ok")
STAFF_OF_A = outcomes("login", "404", "404", "ok", "404", "ok")
ADMIN_ONLY = outcomes("login", "404", "404", "404", "404", "ok")

EXPECTED: dict[str, dict[str, str]] = {
    "index": SIGNED_IN,  # signed out, / itself sends you to sign in
    # Accounts.
    "auth.login": PUBLIC,  # signed in, it sends you home
    "health.healthz": PUBLIC,  # for load balancers: "ok" and nothing else, whoever asks
    # The daily instrument's published definitions, named by every exported Bundle: no patient data.
    "interop.daily_questionnaire": PUBLIC,
    "interop.daily_codes": PUBLIC,
    # The installable app's manifest, service worker and offline page: the same for everyone, no patient data.
    "shell.manifest": PUBLIC,
    "shell.service_worker": PUBLIC,
    "shell.offline": PUBLIC,
    "auth.logout": SIGNED_IN,
    "auth.stay_signed_in": SIGNED_IN,  # the idle warning's "Stay signed in": extends the caller's own session
    "auth.request_reset": PUBLIC,
    "auth.verify": SIGNED_IN,  # signed out with no sign-in under way, it sends you back to sign in
    "auth.security": SIGNED_IN,
    "auth.change_password": SIGNED_IN,
    "auth.end_other_sessions": SIGNED_IN,
    "auth.enrol_two_factor": SIGNED_IN,
    "auth.regenerate_recovery_codes": SIGNED_IN,
    "auth.disable_two_factor": PATIENTS,  # staff must keep the second factor
    "auth.accept_invitation": TOKEN_NOBODYS,
    "auth.reset_password": TOKEN_NOBODYS,
    "auth.lost_second_factor": SIGNED_IN,  # only half-way through signing in; else back to sign in, or home
    "auth.two_factor_off": TOKEN_NOBODYS,
    "unsubscribe.confirm": TOKEN_NOBODYS,
    "unsubscribe.unsubscribe": TOKEN_NOBODYS,
    # The patient's own pages.
    "patient.checkin": PATIENTS,
    "patient.checkin_done": PATIENT_SELF,
    "patient.gad7": PATIENTS,  # before today's check-in it sends the patient to it
    "patient.gad7_later": PATIENTS,
    "patient.gad7_done": PATIENT_SELF,
    "patient.home": PATIENTS,
    "patient.trend": PATIENTS,
    "patient.settings": PATIENTS,
    "patient.own_record_csv": PATIENTS,  # the signed-in patient's own record, whatever the address
    "patient.own_record_fhir": PATIENTS,
    # Staff: the panel and clinic-wide pages show each viewer only what they may see.
    "provider.dashboard": STAFF,
    "provider.dashboard_search": STAFF,
    "provider.enrol": STAFF,
    "provider.report": STAFF,
    "provider.export_clinic": STAFF,
    "provider.export_clinic_sessions_moved": STAFF,
    # Staff, about patient A.
    "provider.patient": STAFF_OF_A,
    "provider.treatments": STAFF_OF_A,
    "provider.new_treatment": STAFF_OF_A,
    "provider.edit_treatment": STAFF_OF_A,
    "provider.invite": STAFF_OF_A,
    "provider.change_status": STAFF_OF_A,
    "provider.change_care_team": ADMIN_ONLY,  # assigning providers is an admin's decision (SPEC 6)
    "provider.export_patient": STAFF_OF_A,
    "provider.export_patient_sessions_moved": STAFF_OF_A,
    "provider.export_patient_fhir": STAFF_OF_A,
    "provider.sessions_moved": STAFF_OF_A,  # the addresses before /treatments, redirected
    # Admin.
    "admin.audit": ADMIN_ONLY,
    "admin.audit_csv": ADMIN_ONLY,
    "admin.research_export": ADMIN_ONLY,
    "admin.clinic_settings": ADMIN_ONLY,
    "admin.staff": ADMIN_ONLY,
    "admin.add_staff": ADMIN_ONLY,
    "admin.reinvite_staff": ADMIN_ONLY,  # user_id: provider B
    "admin.set_staff_active": ADMIN_ONLY,
}

# Requests that end the session go last, so the rest of the walk stays signed in.
LAST = ("auth.logout",)


@pytest.fixture
def records(users):
    """Patient A's check-in, standard GAD-7 and treatment session, the targets of the walk."""
    checkin = add_checkin(users.patient_a, date(2026, 11, 25), 7)
    add_standard_gad7(users.patient_a, date(2026, 11, 25), 9)
    treatment = add_treatment(users.patient_a, datetime(2026, 11, 20, 15, tzinfo=timezone.utc), dose="200")
    return {"patient_id": users.patient_a.id, "treatment_id": treatment.id, "day": checkin.local_date.isoformat(),
            "token": "made-up-token-that-matches-nothing", "user_id": users.provider_b.id,
            "kind": "durability", "part": "checkins"}


def app_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if r.endpoint != "static"),
                  key=lambda r: (r.endpoint in LAST, r.endpoint, r.rule))


def note_when_views_run(app):
    """Wrap every view so that "ok" can mean the view itself ran (not a before_request hook)."""
    for endpoint, view in list(app.view_functions.items()):
        @wraps(view)
        def ran(*args, _view=view, _endpoint=endpoint, **kwargs):
            g.matrix_view_ran = _endpoint
            return _view(*args, **kwargs)
        app.view_functions[endpoint] = ran


def classify(response, view_ran: bool, signed_in: bool, refused_sign_in: bool) -> str:
    status = response.status_code
    if status in (302, 303) and urlsplit(response.headers.get("Location", "")).path == "/login":
        # Signing out also ends at /login: that is the view's own answer, not a refusal.
        if refused_sign_in or not signed_in or not view_ran:
            return "login"
    if status in (404, 405):
        return str(status)
    if status in REACHED and view_ran:
        return "ok"
    return f"unexpected {status}" + ("" if view_ran else " (the view did not run)")


def expected_outcome(app, rule, url: str, method: str, principal: str) -> str | None:
    """What EXPECTED says, "405" when the address does not take the method, or None when
    another rule answers this method at this address (it is checked under its own name)."""
    if method in rule.methods:
        return EXPECTED[rule.endpoint][principal]
    try:
        matched, _ = app.url_map.bind("localhost").match(url, method=method, return_rule=True)
    except MethodNotAllowed:
        return "405"
    except NotFound:
        return "404"
    return None if matched is not rule else EXPECTED[rule.endpoint][principal]


def test_every_route_has_an_expected_outcome(app):
    missing = sorted({r.endpoint for r in app_rules(app)} - EXPECTED.keys())
    assert missing == [], f"add these endpoints to EXPECTED in {__file__}: {missing}"


def test_the_table_names_no_route_that_is_gone(app):
    present = {r.endpoint for r in app_rules(app)}
    assert sorted(EXPECTED.keys() - present) == []


def test_every_row_names_all_six_principals():
    assert [e for e, row in EXPECTED.items() if sorted(row) != sorted(PRINCIPALS)] == []


def walk(app, client, records, principal: str) -> list[str]:
    """Every rule, GET and POST; the answers that differ from what is expected."""
    failures, refusals = [], []
    with user_unauthorized.connected_to(lambda sender, **_: refusals.append(True), app):
        for rule in app_rules(app):
            if rule.endpoint not in EXPECTED:
                failures.append(f"{rule.endpoint}: not in EXPECTED")
                continue
            unknown = sorted(set(rule.arguments) - records.keys())
            if unknown:
                failures.append(f"{rule.endpoint}: no test value for {unknown}")
                continue
            url = rule.build({name: records[name] for name in rule.arguments}, append_unknown=False)[1]
            for method in METHODS:
                expected = expected_outcome(app, rule, url, method, principal)
                if expected is None:
                    continue
                refusals.clear()
                response = client.open(url, method=method, data={})
                got = classify(response, getattr(g, "matrix_view_ran", None) == rule.endpoint,
                               signed_in=principal != "anonymous", refused_sign_in=bool(refusals))
                if got != expected:
                    failures.append(f"{method} {url} ({rule.endpoint}) as {principal}: "
                                    f"expected {expected}, got {got}")
    return failures


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_every_route_answers_each_principal_as_expected(app, users, records, principal):
    note_when_views_run(app)
    client = app.test_client()
    if principal != "anonymous":
        login(client, getattr(users, principal))
    assert walk(app, client, records, principal) == []


# Bookkeeping that a GET may legitimately write: the audit trail of the view itself (with the
# patients a list showed), the signed-in session's last-seen time, Flask's session (a CSRF
# token, a flash message: kept on the server, monitor/session_store.py), rate-limit counts, and
# the stored analysis (derived).
BOOKKEEPING = {"audit_events", "audit_event_patients", "user_sessions", "web_sessions", "rate_limit_hits",
               "alembic_version",
               # The stored analysis, derived data: a page brings a stale one up to date, and
               # the write version moves with that write (monitor/write_version.py).
               "patient_analyses", "treatment_results", "write_version"}


def snapshot() -> dict[str, list[tuple]]:
    """Every row of every table but the bookkeeping ones, in a comparable form."""
    return {table.name: sorted(map(tuple, db.session.execute(table.select()).all()), key=repr)
            for table in db.metadata.sorted_tables if table.name not in BOOKKEEPING}


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_no_get_changes_anything(app, users, records, principal):
    """ASVS: no state change on GET. Every GET route, as every principal, leaves every table
    but the bookkeeping ones exactly as it was (a GET unsubscribe link only shows a button)."""
    from monitor.clinic import get_clinic
    get_clinic()
    db.session.commit()
    client = app.test_client()
    if principal != "anonymous":
        login(client, getattr(users, principal))
    db.session.rollback()
    before = snapshot()
    changed = {}  # endpoint -> tables its GET changed
    for rule in app_rules(app):
        if "GET" in rule.methods and rule.endpoint != "auth.logout":
            client.get(rule.build({name: records[name] for name in rule.arguments}, append_unknown=False)[1])
            db.session.rollback()
            after = snapshot()
            for name in after:
                if after[name] != before[name]:
                    changed.setdefault(rule.endpoint, []).append(name)
            before = after
    assert changed == {}
