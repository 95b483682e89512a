"""The documented ways of serving (the demo on Werkzeug's server, gunicorn with
monitor.gunicorn_conf) keep account-link tokens out of their logs and name no version in the
Server header. Each server runs for real, in a subprocess, for a few requests."""
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

from monitor import create_app, serving, tokens
from monitor.extensions import db
from monitor.serving import redact
from tests.factories import add_patient, flask_command, free_port, server_env

TOKEN = "Zq3-SECRET_t0ken-9xY"


# --- The rule ---------------------------------------------------------------------------

@pytest.mark.parametrize("line, expected", [
    # Werkzeug's request line, as its request handler logs it
    ('127.0.0.1 - - [01/Dec/2026 10:00:00] "GET /account/reset/Zq3-SECRET_t0ken-9xY HTTP/1.1" 200 -',
     '127.0.0.1 - - [01/Dec/2026 10:00:00] "GET /account/reset/[redacted] HTTP/1.1" 200 -'),
    # gunicorn's default access format, the token in the referrer too
    ('10.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "POST /account/invitation/Zq3-SECRET_t0ken-9xY?x=1 HTTP/1.1" '
     '302 0 "https://clinic.example/account/invitation/Zq3-SECRET_t0ken-9xY" "Firefox"',
     '10.0.0.1 - - [01/Dec/2026:10:00:00 +0000] "POST /account/invitation/[redacted]?x=1 HTTP/1.1" '
     '302 0 "https://clinic.example/account/invitation/[redacted]" "Firefox"'),
    ('"GET /unsubscribe/eyJ1IjoxfQ.abc-DEF_123 HTTP/1.1" 200', '"GET /unsubscribe/[redacted] HTTP/1.1" 200'),
    # percent-encoded slashes reach the same route; the line is decoded before redacting
    ('"GET /account%2Freset%2FZq3-SECRET_t0ken-9xY HTTP/1.1" 404', '"GET /account/reset/[redacted] HTTP/1.1" 404'),
    ('"GET //ACCOUNT/Reset/Zq3-SECRET_t0ken-9xY/ HTTP/1.1" 404', '"GET //ACCOUNT/Reset/[redacted]/ HTTP/1.1" 404'),
    # nothing else changes, percent-escapes included
    ('"GET /provider/patients?page=2&q=a%20b HTTP/1.1" 200', '"GET /provider/patients?page=2&q=a%20b HTTP/1.1" 200'),
    ('"GET /account/reset HTTP/1.1" 200', '"GET /account/reset HTTP/1.1" 200'),
])
def test_tokens_are_taken_out_of_log_lines(line, expected):
    assert redact(line) == expected


def test_every_route_with_a_token_is_redacted(app):
    rules = [r.rule for r in app.url_map.iter_rules() if "token" in r.arguments]
    assert len(rules) >= 3
    for rule in rules:
        path = rule.replace("<token>", TOKEN)
        assert TOKEN not in redact(f'"GET {path} HTTP/1.1" 200 -'), rule


def test_the_filter_formats_the_record_then_redacts_it():
    import logging

    record = logging.LogRecord("werkzeug", logging.INFO, __file__, 1, '%s - - "%s" %s %s',
                               ("127.0.0.1", f"GET /account/reset/{TOKEN} HTTP/1.1", "200", "-"), None)
    assert serving.RedactTokens().filter(record)
    assert record.getMessage() == '127.0.0.1 - - "GET /account/reset/[redacted] HTTP/1.1" 200 -'


def test_flasks_exception_log_names_no_token(app, caplog):
    @app.get("/unsubscribe/<token>/boom")
    def boom(token):
        raise RuntimeError("boom")

    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().get(f"/unsubscribe/{TOKEN}/boom").status_code == 500
    assert "Exception on /unsubscribe/[redacted]/boom [GET]" in caplog.text
    assert TOKEN not in caplog.text


# --- The servers, for real ----------------------------------------------------------------

def wait_until_serving(port: int, proc: subprocess.Popen, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"the server stopped: {proc.communicate()}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("the server did not start in time")


def get(port: int, path: str, referer: str | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Referer": referer} if referer else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # nosec B310: a local test server
            return response.status, response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.headers


def stop(proc: subprocess.Popen, how=signal.SIGTERM) -> tuple[str, str]:
    proc.send_signal(how)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate(timeout=30)


def private_instance(tmp_path: Path) -> Path:
    """A new instance folder, its static cache copied from the tests' (no compressing again)."""
    shared = Path(create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["STATIC_CACHE_DIR"])
    instance = tmp_path / "instance"
    shutil.copytree(shared, instance / "static-cache")
    return instance


def test_the_demo_server_logs_no_token_and_names_no_version(tmp_path):
    """The README's first command, on a machine with none of the settings a real install needs."""
    port = free_port()
    instance = private_instance(tmp_path)
    proc = subprocess.Popen(flask_command(instance, "demo", "--port", str(port)),
                            cwd=tmp_path, env=server_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving(port, proc)
        assert (instance / "secret_key").exists()  # the demo's own key, made on this machine
        assert get(port, "/healthz")[0] == 200
        status, headers = get(port, f"/account/reset/{TOKEN}")
        assert status == 404
        assert headers.get_all("Server") == ["monitor"]
        assert get(port, f"/unsubscribe/{TOKEN}")[0] in (200, 404)
        status, headers = get(port, "/login")
        assert status == 200 and headers.get_all("Server") == ["monitor"]
    finally:
        out, err = stop(proc, signal.SIGINT)  # Ctrl+C, as the demo says
    log = re.sub(r"\x1b\[[0-9;]*m", "", out + err)  # Werkzeug colours the request line
    assert '"GET /account/reset/[redacted] HTTP/1.1" 404' in log, log
    assert '"GET /unsubscribe/[redacted] HTTP/1.1"' in log
    assert TOKEN not in log
    assert "Werkzeug/" not in log


def test_gunicorn_with_the_shipped_config_logs_no_token_and_names_no_version(app, db_url, tmp_path):
    patient = add_patient("new@example.test", password=False)
    raw = tokens.issue(patient, tokens.INVITATION, timedelta(days=3650))  # the tests freeze the clock; gunicorn does not
    db.session.commit()
    port = free_port()
    instance = private_instance(tmp_path)
    access_log = tmp_path / "access.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:monitor.gunicorn_conf", "-w", "1", "-b", f"127.0.0.1:{port}",
         "--access-logfile", str(access_log), f"monitor:create_app(instance_path={str(instance)!r})"],
        # MONITOR_DEV=1: plain http on 127.0.0.1, which a real install refuses (startup_checks.py).
        cwd=tmp_path, env=server_env(DATABASE_URL=db_url, SECRET_KEY="k" * 32, SESSION_COOKIE_SECURE="0",
                                     MONITOR_DEV="1"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving(port, proc)
        status, headers = get(port, f"/account/invitation/{raw}")
        assert status == 200  # a real, valid link
        assert headers.get_all("Server") == ["gunicorn"]  # no version (gunicorn 20.1 and later)
        assert get(port, f"/account/reset/{TOKEN}")[0] == 404
        assert get(port, "/login", referer=f"http://127.0.0.1:{port}/account/invitation/{raw}")[0] == 200
    finally:
        out, err = stop(proc)
    log = access_log.read_text()
    lines = log.splitlines()
    assert len(lines) == 3, (log, err)
    assert '"GET /account/invitation/[redacted] HTTP/1.1" 200' in lines[0]
    assert '"GET /account/reset/[redacted] HTTP/1.1" 404' in lines[1]
    assert re.search(r'"GET /login HTTP/1.1" 200 \d+ "http://127.0.0.1:\d+/account/invitation/\[redacted\]"', lines[2])
    assert raw not in log + out + err and TOKEN not in log + out + err


def test_gunicorn_in_json_mode_writes_only_json_lines(app, db_url, tmp_path):
    """An on-call engineer's view: gunicorn's own lines and the app's request lines, all JSON."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:monitor.gunicorn_conf", "-w", "1", "-b", f"127.0.0.1:{port}",
         f"monitor:create_app(instance_path={str(private_instance(tmp_path))!r})"],
        # MONITOR_DEV=1: plain http on 127.0.0.1, which a real install refuses (startup_checks.py).
        cwd=tmp_path, env=server_env(DATABASE_URL=db_url, SECRET_KEY="k" * 32, SESSION_COOKIE_SECURE="0",
                                     MONITOR_DEV="1", LOG_FORMAT="json"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving(port, proc)
        assert get(port, "/healthz?probe=1")[0] == 200
    finally:
        out, err = stop(proc, signal.SIGTERM)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # fails on any other line
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    [request] = [line for line in lines if line["logger"] == "monitor.requests"]
    assert (request["route"], request["status"], request["user_id"]) == ("/healthz", 200, None)
    assert "probe" not in err
