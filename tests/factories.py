"""The one place tests build data and read what the app wrote: plain functions, in the style of
CTFd's tests/helpers.py. Fixtures and pytest plumbing live in conftest.py.

Rows are made through the app's own services (monitor.checkins.save_checkin,
monitor.treatments.record_treatment), so they hold what the app would have stored: a check-in's
total and late_entry, a session's audit event. Functions that store something commit, standing
in for an earlier request. tests/test_test_layout.py keeps test modules from growing copies."""
import email
import email.message
import email.policy
import hashlib
import hmac
import os
import re
import signal
import socket
import subprocess
import sys
import time as clock
import urllib.error
import urllib.request
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from select import select as wait_readable
from zoneinfo import ZoneInfo

import argon2
import pyotp
from argon2 import PasswordHasher
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import event, select

from monitor import outbox, standard_gad7, timeutil, twofactor, write_version
from monitor.checkins import save_checkin
from monitor.extensions import db
from monitor.models import AuditEvent, AuditEventPatient, CheckIn, OutboxMessage, Role, Treatment, User
from monitor.treatments import TreatmentValues, record_treatment, update_treatment

# Thursday 26 November 2026, 15:00 UTC = 10:00 in New York: the frozen clock of every test.
NOW = datetime(2026, 11, 26, 15, 0, tzinfo=timezone.utc)
NEW_YORK = "America/New_York"
TODAY = date(2026, 11, 26)  # NOW's date in New York (and in London)

# Production hashing costs ~170 ms a login; conftest installs argon2-cffi's profile made for
# tests (test_auth checks the production parameters and rehashing with the real hasher).
TEST_HASHER = PasswordHasher.from_parameters(argon2.profiles.CHEAPEST)
PASSWORD = "correct horse battery staple"
PASSWORD_HASH = TEST_HASHER.hash(PASSWORD)  # hashed once per run: hashing is slow on purpose


# --- Submission keys: the shapes monitor/submissions.py accepts, made readable for tests.

def form_key(label: str) -> str:
    """A submission key of the server's own shape (22 URL-safe characters) naming its use."""
    text = re.sub(r"[^A-Za-z0-9_-]", "-", label)[:22]
    return text + "_" * (22 - len(text))


# The one script every page loads (static/js/offline.js): progressive enhancement, so a page
# that "needs no JavaScript" is checked without it.
APP_SCRIPT = re.compile(r'<script src="/static/js/offline\.[0-9a-f]{12}\.js" defer></script>')


# --- Dates and times.

def day(n: int, start: date = TODAY) -> date:
    """The local date n days after start (TODAY unless given); a negative n is before it."""
    return start + timedelta(days=n)


def at_local(on: date, hour: int = 10, minute: int = 0, *, zone: str = NEW_YORK) -> datetime:
    """The UTC instant of hour:minute on the local date `on` in zone (New York unless given)."""
    return datetime.combine(on, time(hour, minute), tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


# --- People.

def _add_user(role: str, email_address: str, *, first_name: str = "", last_name: str = "",
              timezone: str = NEW_YORK, providers=(), password: bool = True, **attributes) -> User:
    user = User(email=email_address, role=Role(role).value, first_name=first_name, last_name=last_name,
                timezone=timezone, password_hash=PASSWORD_HASH if password else None)
    user.providers = list(providers)
    for name, value in attributes.items():
        if not hasattr(User, name):
            raise TypeError(f"User has no attribute {name!r}")
        setattr(user, name, value)
    db.session.add(user)
    db.session.commit()
    return user


def add_patient(email_address: str, **fields) -> User:
    """A patient (PASSWORD unless password=False: invited only); other fields as User columns, e.g. status."""
    return _add_user("patient", email_address, **fields)


def add_provider(email_address: str, **fields) -> User:
    """A provider who signs in with PASSWORD; fields as for add_patient."""
    return _add_user("provider", email_address, **fields)


def add_admin(email_address: str, **fields) -> User:
    """An admin who signs in with PASSWORD; fields as for add_patient."""
    return _add_user("admin", email_address, **fields)


def enrolled_long_ago(*patients: User) -> None:
    """Backdate these patients' enrolment (created_at) to 200 days before NOW."""
    for patient in patients:
        patient.created_at = NOW - timedelta(days=200)
    db.session.commit()


# --- Check-ins.

def answers_for(total: int) -> dict[str, int]:
    """Seven item answers (each 0-3) that add up to total, filling the first items first."""
    if not 0 <= total <= 21:
        raise ValueError(total)
    answers, left = {}, total
    for n in range(1, 8):
        answers[f"q{n}"] = min(3, left)
        left -= answers[f"q{n}"]
    return answers


def add_checkin(patient: User, local_date: date, total: int | None = None, *, answers: dict[str, int] | None = None,
                side_effects: dict[str, int | None] | None = None, note: str | None = None,
                now: datetime | None = None, source: str = "web", submission_key: str | None = None) -> CheckIn:
    """A check-in stored by save_checkin: answers_for(total) unless answers are given, sent at now (the clock's)."""
    if answers is None:
        answers = answers_for(total)
    elif total is not None and total != sum(answers.values()):
        raise ValueError(f"answers add up to {sum(answers.values())}, not {total}")
    result = save_checkin(patient, local_date, answers, side_effects or {}, note,
                          submission_key=submission_key, source=source, now=now)
    db.session.commit()
    return result.checkin


def add_checkins(patient: User, totals: dict[date | int, int],
                 side_effects: dict[date | int, dict[str, int | None]] | None = None) -> None:
    """add_checkin for each {local date, or day offset from TODAY: total}; side_effects: {same key: side effects}."""
    for when, total in totals.items():
        add_checkin(patient, day(when) if isinstance(when, int) else when, total,
                    side_effects=(side_effects or {}).get(when))


# --- Treatment sessions.

def treatment_values(administered_at: datetime, *, route: str = "lozenge", dose: str | Decimal = "50",
                     **values) -> TreatmentValues:
    """TreatmentValues for a session at an aware instant; values: blood pressures, dissociation_score, notes."""
    return TreatmentValues(administered_at=administered_at, route=route, dose_mg=Decimal(str(dose)), **values)


def add_treatment(patient: User, administered_at: datetime, *, route: str = "lozenge", dose: str | Decimal = "50",
                  recorded_by: User | None = None, source: str = "web", now: datetime | None = None,
                  **values) -> Treatment:
    """A session stored by record_treatment (audited as treatment.created); values as for treatment_values."""
    result = record_treatment(patient, treatment_values(administered_at, route=route, dose=dose, **values),
                              recorded_by=recorded_by, source=source, now=now)
    db.session.commit()
    return result.treatment


def edit_treatment(treatment: Treatment, *, edited_by: User | None = None, now: datetime | None = None,
                   **changes) -> Treatment:
    """The session changed by update_treatment (keeping a revision); changes as for treatment_values, dose included."""
    values = TreatmentValues.of(treatment)
    if "dose" in changes:
        changes["dose_mg"] = Decimal(str(changes.pop("dose")))
    for name, value in changes.items():
        if not hasattr(values, name):
            raise TypeError(f"a session has no value {name!r}")
        setattr(values, name, value)
    update_treatment(treatment, values, edited_by=edited_by, now=now)
    db.session.commit()
    return treatment


def unsaved_treatment(administered_at: datetime, *, route: str = "lozenge", dose: str | Decimal = "10") -> Treatment:
    """A Treatment never added to the session, for pure functions that need no database."""
    # Not a stored row, so there is no service to go through: the analysis only reads its fields.
    return Treatment(administered_at=administered_at, route=route, dose_mg=Decimal(str(dose)))


# --- The audit trail.

def events(action: str | None = None) -> list[AuditEvent]:
    """Audit events, oldest first; only those with this action when one is given."""
    query = select(AuditEvent).order_by(AuditEvent.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def listed_patients(event: AuditEvent) -> list[int]:
    """The ids of the patients an audited list showed, ascending (read from the table itself)."""
    return list(db.session.scalars(
        select(AuditEventPatient.patient_id).where(AuditEventPatient.event_id == event.id)
        .order_by(AuditEventPatient.patient_id)))


def add_audit_event(action: str, *, at: datetime = NOW, actor=None, target_type: str | None = None,
                    target_id: int | None = None, ip: str | None = "198.51.100.1",
                    detail: str | None = None, patient_ids: tuple[int, ...] | list[int] = ()) -> AuditEvent:
    """An audit event at a chosen time and address (actor: a User or an id), listing patients: for the viewer."""
    # Inserted directly: monitor.audit.record() takes the time from the clock and the address
    # from the request, and the viewer's tests need events spread over time and addresses.
    row = AuditEvent(at=at, actor_id=getattr(actor, "id", actor), action=action, target_type=target_type,
                     target_id=target_id, ip=ip, detail=detail,
                     shown_patients=[AuditEventPatient(patient_id=i) for i in patient_ids])
    db.session.add(row)
    db.session.commit()
    return row


@contextmanager
def _recording(record):
    """Calls record(statement, parameters) for every SQL statement run inside the block."""
    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        record(statement, parameters)

    event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield
    finally:
        event.remove(db.engine, "before_cursor_execute", before_cursor_execute)


@contextmanager
def executed_statements():
    """(statement, parameters) of every SQL statement run inside the block."""
    executed = []
    with _recording(lambda statement, parameters: executed.append((statement, parameters))):
        yield executed


@contextmanager
def counted_queries():
    """The SQL statements run inside the block (for tests that a page's query count is fixed)."""
    statements = []
    with _recording(lambda statement, parameters: statements.append(statement)):
        yield statements


def page_statements(client, url: str) -> tuple[list[str], list[str]]:
    """A page's SQL statements read afresh (what workers keep dropped), then on the next view, which may keep to them."""
    assert client.get(url).status_code == 200
    found = []
    for kept in (False, True):
        if not kept:
            for value in client.application.extensions.values():
                if isinstance(value, write_version.Cache):
                    value.clear()
        db.session.expire_all()
        with counted_queries() as statements:
            assert client.get(url).status_code == 200
        found.append(statements)
    return found[0], found[1]


# --- Signing in.

def login(client, user: User, password: str = PASSWORD):
    """Sign in through the form with a test client; fails the test unless it redirects."""
    response = client.post("/login", data={"email": user.email, "password": password})
    assert response.status_code == 302, f"login as {user.email} failed"
    return response


def login_in_browser(page, base_url: str, user: User, password: str = PASSWORD) -> None:
    """Sign in through the form in a Playwright page, as a person would."""
    page.goto(base_url + "/login")
    page.get_by_label("Email").fill(user.email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def own_scripts(html: str) -> list[str]:
    """The page's <script> tags but the app-wide idle warning's and offline queue's (idle.js, offline.js)."""
    return [tag for tag in re.findall(r"<script[^>]*>", html)
            if "/static/js/idle." not in tag and "/static/js/offline." not in tag]


# --- Mail: requests queue it in the outbox, the runner delivers it (monitor/outbox.py).

def deliver_mail(now: datetime | None = None) -> outbox.OutboxRun:
    """Deliver what requests queued, once, as `flask --app monitor deliver-mail` does."""
    return outbox.deliver_due(now)


def outbox_rows() -> list[OutboxMessage]:
    """The outbox's rows as stored now, oldest first."""
    db.session.expire_all()
    return db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()


def read_outbox(app) -> list[email.message.EmailMessage]:
    """Every message the file transport wrote (delivered: see deliver_mail), oldest first."""
    directory = Path(app.config["MAIL_FILE_DIR"])
    if not directory.exists():
        return []
    files = sorted(directory.glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in files]


def message_text(msg) -> str:
    """The plain-text part of a message."""
    return msg.get_body(preferencelist=("plain",)).get_content()


# --- The second factor.

def code_at(user_or_secret, instant=None) -> str:
    """The authenticator code of a user (or a secret) at an instant, now unless given."""
    secret = user_or_secret if isinstance(user_or_secret, str) else twofactor.stored_secret(user_or_secret)
    return pyotp.TOTP(secret).at(instant or timeutil.utcnow())


def enable_two_factor(user) -> list[str]:
    """Turn the factor on directly, as the enrolment page would; returns the recovery codes."""
    twofactor.store_secret(user, pyotp.random_base32())
    user.totp_enabled_at = NOW - timedelta(days=1)
    codes = twofactor.new_recovery_codes(user)
    db.session.commit()
    return codes


# --- Keys derived from SECRET_KEY (monitor/crypto.py), worked out here independently.

def derived_key(secret: str, purpose: str) -> bytes:
    """The key monitor/crypto.py must derive for a purpose (HKDF-SHA256, info "monitor/<purpose>")."""
    # Written out, not imported: stored values and the 0010 migration depend on the derivation.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=f"monitor/{purpose}".encode()).derive(
        secret.encode())


def keyed_recovery_hash(code: str, secret: str) -> str:
    """What recovery_codes.code_hash must hold for a code: HMAC(key, sha256 of the code)."""
    unkeyed = hashlib.sha256(code.replace("-", "").lower().encode()).hexdigest()
    return hmac.new(derived_key(secret, "recovery-code"), unkeyed.encode(), hashlib.sha256).hexdigest()


@contextmanager
def secret_keys(app, current: str, *fallbacks: str):
    """Run the block with another SECRET_KEY (and SECRET_KEY_FALLBACKS), as after a rotation."""
    saved = app.config["SECRET_KEY"], app.config.get("SECRET_KEY_FALLBACKS")
    app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = current, list(fallbacks)
    try:
        yield
    finally:
        app.config["SECRET_KEY"], app.config["SECRET_KEY_FALLBACKS"] = saved


# --- The runner as a process (flask --app monitor send-nudges / deliver-mail).

def runner_env(app, db_url: str, mail_port: int) -> dict:
    """The environment a runner process needs to reach this test's database and SMTP server."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MAIL_", "FLASK_"))}
    # MONITOR_DEV=1: the tests' plain-http BASE_URL, which a real install refuses (startup_checks.py).
    env.update(DATABASE_URL=db_url, MAIL_SERVER="127.0.0.1", MAIL_PORT=str(mail_port),
               SECRET_KEY=app.config["SECRET_KEY"], BASE_URL="http://localhost", MONITOR_DEV="1",
               MAIL_DEFAULT_SENDER="Clinic <no-reply@clinic.test>")
    env.pop("TEST_DATABASE_URL", None)
    return env


def start_runner(env, *args, command="send-nudges"):
    """A runner process (send-nudges unless told), its output readable as text."""
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "monitor", command, *args],
                            cwd=Path(__file__).resolve().parents[1], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def read_output(proc, until, seconds: float = 60) -> list[str]:
    """Lines a process prints until `until(lines)` holds, it exits, or the time is up (never a bare readline)."""
    lines, deadline = [], clock.monotonic() + seconds
    while not until(lines) and clock.monotonic() < deadline:
        ready, _, _ = wait_readable([proc.stdout], [], [], max(0.0, deadline - clock.monotonic()))
        if not ready:
            break
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        lines.append(line)
    return lines


# --- Processes started as an operator would: `flask --app monitor ...`, gunicorn, the demo,
# the installed wheel, the image's command.

def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (for a server, or for a refused connection)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(**values) -> dict:
    """A new machine's environment: none of the app's settings, the checkout on PYTHONPATH, plus `values`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAIL_", "FLASK_", "DATABASE_URL", "SECRET_KEY", "TEST_DATABASE_URL", "BASE_URL",
                                "MONITOR_DEV", "SESSION_COOKIE_", "LOG_FORMAT", "TRUSTED_PROXY_COUNT"))}
    env.update(PYTHONPATH=str(Path(__file__).resolve().parents[1]), **values)
    return env


def wait_until_serving(port: int, proc: subprocess.Popen, seconds: float = 90) -> None:
    """Return once something accepts connections on the port; fail if proc stops or the time is up."""
    deadline = clock.monotonic() + seconds
    while clock.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server stopped: {proc.communicate(timeout=30)}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            clock.sleep(0.2)
    raise AssertionError("the server did not start in time")


def http_get(port: int, path: str, referer: str | None = None):
    """GET http://127.0.0.1:port/path: (status, headers, body as text), an error status included."""
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Referer": referer} if referer else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310: a local test server
            return response.status, response.headers, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode("utf-8", "replace")


def stop_process(proc: subprocess.Popen, how=signal.SIGTERM) -> tuple[str, str]:
    """Signal the process (SIGTERM unless told), kill it if it has not ended in 30 s; its (stdout, stderr)."""
    proc.send_signal(how)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=30)


def flask_command(instance: Path, *args: str) -> list[str]:
    """`flask --app monitor ...` as the README says it, with the instance folder moved."""
    return [sys.executable, "-m", "flask", "--app", f"monitor:create_app(instance_path={str(instance)!r})", *args]


# --- Standard GAD-7s (SPEC 2.2).

def add_standard_gad7(patient: User, local_date: date, total: int | None = None, *,
                      answers: dict[str, int] | None = None, difficulty: int | None = None,
                      source: str = "web", now: datetime | None = None):
    """A standard GAD-7 stored by standard_gad7.save: answers_for(total) unless answers are given."""
    row = standard_gad7.save(patient, local_date, answers if answers is not None else answers_for(total),
                             difficulty, source=source, now=now)
    db.session.commit()
    return row
