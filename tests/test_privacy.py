"""No health information where it does not belong: in URLs (which end up in proxy logs and
browser history), in the application's logs, on error pages, or in emails."""
import io
import logging
import re
from datetime import date, datetime, timezone
from html import unescape
from urllib.parse import unquote_plus

import pytest
from werkzeug.exceptions import BadRequest

from monitor import imports, nudges
from tests.factories import PASSWORD, add_checkin, add_patient, add_provider, add_treatment, login, read_outbox
from tests.test_nudge_email import FORBIDDEN, URL
from tests.test_nudges import EVENING

ROLES = ["anonymous", "patient_a", "patient_b", "provider_a", "provider_b", "admin"]
NOTE = "Argued with my sister Wilhelmina about the move"
SESSION_NOTE = "Patient tolerated well, mild nystagmus noted"
URL_ATTRIBUTE = re.compile(r'\b(?:href|action|src|formaction)="([^"]*)"')


@pytest.fixture
def clinic(users):
    """The standing users, with patient A's check-ins, a noted check-in and a treatment session."""
    add_checkin(users.patient_a, date(2026, 11, 24), 14, side_effects={"nausea": 2}, note=NOTE)
    add_checkin(users.patient_a, date(2026, 11, 25), 7)
    add_checkin(users.patient_b, date(2026, 11, 25), 21, note="Bob's own note")
    treatment = add_treatment(users.patient_a, datetime(2026, 11, 20, 15, tzinfo=timezone.utc), route="lozenge",
                              dose="200", notes=SESSION_NOTE, recorded_by=users.provider_a)
    return {"patient_id": users.patient_a.id, "treatment_id": treatment.id, "day": "2026-11-24",
            "token": "made-up-token-that-matches-nothing"}


def phi_of(*patients) -> list[str]:
    """What identifies a patient: email (also URL-encoded) and names."""
    words = []
    for p in patients:
        words += [p.email.lower(), p.email.lower().replace("@", "%40"), p.first_name.lower(), p.last_name.lower()]
    return [w for w in words if w]


def get_routes(app):
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and rule.endpoint != "static":
            yield rule


@pytest.mark.parametrize("role", ROLES)
def test_no_link_or_form_on_any_page_carries_a_patients_name_or_email(app, users, clinic, role):
    client = app.test_client()
    if role != "anonymous":
        login(client, getattr(users, role))
    forbidden = phi_of(users.patient_a, users.patient_b)
    pages, leaks = 0, []
    for rule in get_routes(app):
        if not set(rule.arguments) <= set(clinic):
            continue  # tests/test_access.py makes every argument known
        url = rule.build({name: clinic[name] for name in rule.arguments})[1]
        response = client.get(url)
        if response.status_code != 200 or not response.mimetype == "text/html":
            continue
        pages += 1
        for link in URL_ATTRIBUTE.findall(response.get_data(as_text=True)):
            link = unquote_plus(unescape(link)).lower()
            if link.startswith("mailto:"):
                continue  # never sent to any server
            leaks += [f"{url} links to {link}" for word in forbidden if word in link]
    assert leaks == []
    assert pages >= 1


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.DEBUG)
    return caplog


def assert_logs_clean(caplog, *patients, extra=()):
    text = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records).lower()
    for word in phi_of(*patients) + [w.lower() for w in extra]:
        assert word not in text, f"{word!r} in the logs"
    assert not re.search(r"\b(total|score|gad)\b\W*\d", text)


def test_a_check_in_logs_nothing_about_the_patient(app, users, logs):
    client = app.test_client()
    login(client, users.patient_a)
    r = client.post("/checkin", data={**{f"q{i}": "3" for i in range(1, 8)}, "note": NOTE, "local_date": "2026-11-26",
                                      "submission_key": "k1"})
    assert r.status_code == 303
    assert_logs_clean(logs, users.patient_a, extra=[NOTE])


def test_an_enrolment_logs_nothing_about_the_patient(app, users, logs):
    client = app.test_client()
    login(client, users.provider_a)
    r = client.post("/patients/new", data={"email": "zelda.quixote@example.test", "first_name": "Zelda",
                                           "last_name": "Quixote", "timezone": "America/New_York"})
    assert r.status_code == 303
    assert_logs_clean(logs, users.patient_a, extra=["zelda", "quixote"])


def test_a_csv_import_logs_nothing_about_the_patients(app, users, logs):
    csv = ("patient_email,date,q1,q2,q3,q4,q5,q6,q7,note\n"
           f"{users.patient_a.email},2026-11-20,2,2,2,2,2,2,2,{NOTE}\n")
    outcome = imports.import_checkins(io.StringIO(csv), actor=users.admin)
    assert outcome.ok
    refused = imports.import_checkins(io.StringIO(csv.replace("2026-11-20,2", "2026-13-20,9")), actor=users.admin)
    assert not refused.ok
    assert_logs_clean(logs, users.patient_a, extra=[NOTE])


def test_a_nudge_run_logs_nothing_about_the_patients(app, logs):
    provider = add_provider("dr@clinic.test", first_name="Henrietta", last_name="Quill")
    pat = add_patient("nora.nightingale@example.test", first_name="Nora", last_name="Nightingale",
                      providers=[provider])
    summary = nudges.run(EVENING)
    assert summary is not None
    assert_logs_clean(logs, pat)


# --- Error pages ------------------------------------------------------------------------------

@pytest.fixture
def failing_app(app, users):
    """A test-only route that fails with the patient's details in the exception."""
    message = f"boom for {users.patient_a.email} {users.patient_a.last_name}"

    def fail():
        raise RuntimeError(message)

    def bad():
        raise BadRequest(message)

    app.add_url_rule("/test-only/fail", "test_fail", fail)
    app.add_url_rule("/test-only/bad", "test_bad", bad)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


def assert_clean_error_page(response, status, *patients):
    assert response.status_code == status
    html = response.get_data(as_text=True).lower()
    for word in phi_of(*patients):
        assert word not in html, f"{word!r} on the {status} page"
    for trace in ("traceback", "file \"", "runtimeerror", "werkzeug", "sqlalchemy", "line "):
        assert trace not in html, f"{trace!r} on the {status} page"
    assert response.headers["Cache-Control"] == "no-store"


def test_error_pages_hold_no_patient_data_and_no_stack_trace(failing_app, users, clinic, caplog):
    client = failing_app.test_client()
    login(client, users.provider_a)
    assert_clean_error_page(client.get("/test-only/fail"), 500, users.patient_a)
    assert_clean_error_page(client.get("/test-only/bad"), 400, users.patient_a)
    # Another provider's patient: the same 404 as nothing at all.
    assert_clean_error_page(client.get(f"/patients/{users.patient_b.id}"), 404, users.patient_b)
    failing_app.config["MAX_CONTENT_LENGTH"] = 1000
    big = client.post(f"/patients/{users.patient_a.id}/treatments/new", data={"notes": "x" * 5000})
    assert_clean_error_page(big, 413, users.patient_a)


def test_the_rate_limit_page_holds_no_email(app, users):
    app.config["RATELIMIT_ENABLED"] = True
    client = app.test_client()
    for _ in range(6):
        r = client.post("/login", data={"email": users.patient_a.email, "password": "wrong"})
    assert_clean_error_page(r, 429, users.patient_a)


# --- Emails -----------------------------------------------------------------------------------

def visible_text(msg) -> str:
    """What a reader sees, links left out: a link's random token can spell anything ("...gad..."),
    and links are checked for addresses and names on their own."""
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = re.sub(r"<[^>]+>", " ", msg.get_body(preferencelist=("html",)).get_content())
    return URL.sub(" ", f"{msg['Subject']}\n{text}\n{html}").lower()


def assert_no_health_words(msg):
    text = visible_text(msg)
    for word in FORBIDDEN:
        assert not re.search(rf"\b{word}", text), f"'{word}' in {msg['Subject']!r}"


def test_no_email_holds_health_information(app, users, clinic):
    client = app.test_client()
    login(client, users.provider_a)
    client.post("/patients/new", data={"email": "new.patient@example.test", "first_name": "Nina",
                                       "last_name": "Newcomer", "timezone": "America/New_York"})
    client.post("/logout")
    client.post("/account/reset", data={"email": users.patient_a.email})
    lapsed = add_patient("lena@example.test", first_name="Lena", last_name="Lindqvist", providers=[users.provider_a])
    add_checkin(lapsed, date(2026, 11, 26), 21, note="terrible")
    nudges.run(EVENING)
    nudges.run(datetime(2026, 11, 30, 13, 0, tzinfo=timezone.utc))  # 08:00 clinic time: digests
    outbox = read_outbox(app)
    subjects = {m["Subject"] for m in outbox}
    assert len(subjects) >= 4, subjects  # invitation, reset, nudge, digest
    for msg in outbox:
        assert_no_health_words(msg)
        assert "wilhelmina" not in visible_text(msg) and "terrible" not in visible_text(msg)
    # The digest names no patient.
    for msg in outbox:
        if msg["To"] == users.provider_a.email:
            assert not any(w in visible_text(msg) for w in phi_of(users.patient_a, lapsed))
    assert PASSWORD not in "".join(visible_text(m) for m in outbox)
