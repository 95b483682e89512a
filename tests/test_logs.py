"""Logs an on-call engineer can use and nobody can misuse: with LOG_FORMAT=json one JSON line per
request (method, route pattern, status, duration, request id, user id) and nothing a log must
not hold (no query string, form value, email address, name or token); a request id on every
response, taken from the request only behind a trusted proxy and only when it is a plain short
token; the app's own handler on the "monitor" logger, the root logger left alone."""
import io
import json
import logging
import re
from contextlib import contextmanager

import pytest

from monitor import create_app, logs
from monitor.extensions import db
from tests.factories import PASSWORD, login

FRESH_ID = re.compile(r"[0-9a-f]{32}")


@contextmanager
def app_log():
    """What the app's log handler writes inside the block."""
    [handler] = [h for h in logging.getLogger("monitor").handlers if isinstance(h, logs.AppLogHandler)]
    buffer = io.StringIO()
    old = handler.setStream(buffer)
    try:
        yield buffer
    finally:
        handler.setStream(old)


def request_lines(buffer: io.StringIO) -> list[dict]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines()]  # every line is JSON
    return [line for line in lines if line["logger"] == "monitor.requests"]


@pytest.fixture
def json_app(app, db_url):
    """The app again, on the same database, with LOG_FORMAT=json."""
    json_app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "WTF_CSRF_ENABLED": False,
                           "RATELIMIT_ENABLED": False, "TWO_FACTOR_REQUIRED_FOR_STAFF": False, "LOG_FORMAT": "json"})
    yield json_app
    with json_app.app_context():
        db.engine.dispose()


def test_one_json_line_per_request_with_what_on_call_needs_and_no_secrets(json_app, users):
    client = json_app.test_client()
    patient, provider = users.patient_a, users.provider_a
    secrets_sent = ["Alice", "Archer", "dizzy", "Zq3-SECRET_t0ken", provider.email, PASSWORD, "q=", "from="]
    with app_log() as out:
        login(client, provider)  # the email address and password in the form
        posted = client.post(f"/patients/{patient.id}/treatments/new?from=Zq3-SECRET_t0ken",
                             data={"notes": "Alice Archer felt dizzy", "dose_mg": "55", "route": "intramuscular"})
        shown = client.get(f"/patients/{patient.id}?q=Archer")
        client.get("/no/such/page?q=Alice")
    signed_in, treatment, page, missing = request_lines(out)

    assert (signed_in["method"], signed_in["route"], signed_in["status"]) == ("POST", "/login", 302)
    assert signed_in["user_id"] == provider.id  # signed in by the end of that request
    assert treatment["route"] == "/patients/<int:patient_id>/treatments/new"  # the pattern, not the path
    assert (treatment["method"], treatment["status"], treatment["user_id"]) == ("POST", posted.status_code,
                                                                                 provider.id)
    assert treatment["request_id"] == posted.headers["X-Request-ID"]
    assert page["route"] == "/patients/<int:patient_id>" and page["request_id"] == shown.headers["X-Request-ID"]
    assert missing["route"] is None and missing["status"] == 404
    for line in (signed_in, treatment, page, missing):
        assert isinstance(line["duration_ms"], float) and line["duration_ms"] >= 0
        assert FRESH_ID.fullmatch(line["request_id"])
        assert line["level"] == "INFO" and line["time"].endswith("+00:00")
    text = out.getvalue()
    assert [s for s in secrets_sent if s.lower() in text.lower()] == []
    assert f"/patients/{patient.id}" not in text and "/no/such/page" not in text


def test_a_signed_out_request_has_no_user(json_app):
    with app_log() as out:
        json_app.test_client().get("/login")
    [line] = request_lines(out)
    assert line["user_id"] is None and line["route"] == "/login"


def test_messages_logged_during_a_request_carry_its_id_and_errors_stay_on_one_line(json_app):
    @json_app.get("/boom")
    def boom():
        raise RuntimeError("boom")

    json_app.config["PROPAGATE_EXCEPTIONS"] = False
    with app_log() as out:
        response = json_app.test_client().get("/boom")
    assert response.status_code == 500
    [error] = [json.loads(line) for line in out.getvalue().splitlines() if '"ERROR"' in line]
    assert error["request_id"] == response.headers["X-Request-ID"]
    assert error["message"] == "Exception on /boom [GET]" and "RuntimeError: boom" in error["exception"]


def test_text_lines_are_readable_and_carry_the_request_id(app, client):
    @app.get("/says-hello")
    def says_hello():
        logging.getLogger("monitor.example").info("hello")
        return "ok"

    with app_log() as out:
        response = client.get("/says-hello")
    [line] = out.getvalue().splitlines()  # no request line in text mode: the server's access log is that
    assert re.fullmatch(r"\S+ \S+ INFO monitor\.example \[([0-9a-f]{32})\]: hello", line)
    assert response.headers["X-Request-ID"] in line


def test_every_response_has_a_fresh_request_id(client):
    ids = {client.get("/login").headers["X-Request-ID"] for _ in range(3)}
    assert len(ids) == 3 and all(FRESH_ID.fullmatch(i) for i in ids)


def test_an_incoming_request_id_is_ignored_without_a_trusted_proxy(client):
    sent = client.get("/login", headers={"X-Request-ID": "lb-7f3a9c"}).headers["X-Request-ID"]
    assert sent != "lb-7f3a9c" and FRESH_ID.fullmatch(sent)


@pytest.mark.parametrize("incoming, kept", [
    ("lb-7f3a9c", True),
    ("3f1c2e9a-5b7d-4c1e-9f0a-2b3c4d5e6f70", True),  # a UUID, as Caddy and Envoy make them
    ("a" * 64, True),
    ("a" * 65, False),
    ("two words", False),
    ("id\tforged", False),
    ('"},{"user_id":1', False),
    ("", False),
])
def test_behind_a_trusted_proxy_a_short_plain_incoming_id_is_kept(app, client, incoming, kept):
    app.config["TRUSTED_PROXY_COUNT"] = 1
    sent = client.get("/login", headers={"X-Request-ID": incoming}).headers["X-Request-ID"]
    assert (sent == incoming) is kept
    if not kept:
        assert FRESH_ID.fullmatch(sent)


def test_create_app_adds_no_handler_to_the_root_logger(tmp_path):
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    root.handlers = []  # as in a new process (pytest's own capture handlers set aside meanwhile)
    try:
        for _ in range(2):
            create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}, instance_path=str(tmp_path))
        assert (root.handlers, root.level) == ([], saved[1])
    finally:
        root.handlers, _ = saved
    # One handler of the app's own, however many apps a process makes.
    assert [type(h) for h in logging.getLogger("monitor").handlers] == [logs.AppLogHandler]
