"""The documented ways of serving (the demo on Werkzeug's server, gunicorn with
monitor.gunicorn_conf) keep account-link tokens out of their logs and name no version in the
Server header. Each server runs for real, in a subprocess, for a few requests."""
import json
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from monitor import create_app, serving, tokens
from monitor.extensions import db
from monitor.serving import redact
from tests.factories import (add_patient, flask_command, free_port, http_get, server_env, stop_process,
                             wait_until_serving)

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
        assert http_get(port, "/healthz")[0] == 200
        status, headers, _ = http_get(port, f"/account/reset/{TOKEN}")
        assert status == 404
        assert headers.get_all("Server") == ["monitor"]
        assert http_get(port, f"/unsubscribe/{TOKEN}")[0] in (200, 404)
        status, headers, _ = http_get(port, "/login")
        assert status == 200 and headers.get_all("Server") == ["monitor"]
    finally:
        out, err = stop_process(proc, signal.SIGINT)  # Ctrl+C, as the demo says
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
        status, headers, _ = http_get(port, f"/account/invitation/{raw}")
        assert status == 200  # a real, valid link
        assert headers.get_all("Server") == ["gunicorn"]  # no version (gunicorn 20.1 and later)
        assert http_get(port, f"/account/reset/{TOKEN}")[0] == 404
        assert http_get(port, "/login", referer=f"http://127.0.0.1:{port}/account/invitation/{raw}")[0] == 200
    finally:
        out, err = stop_process(proc)
    log = access_log.read_text()
    lines = log.splitlines()
    assert len(lines) == 3, (log, err)
    assert '"GET /account/invitation/[redacted] HTTP/1.1" 200' in lines[0]
    assert '"GET /account/reset/[redacted] HTTP/1.1" 404' in lines[1]
    assert re.search(r'"GET /login HTTP/1.1" 200 \d+ "http://127.0.0.1:\d+/account/invitation/\[redacted\]"', lines[2])
    assert raw not in log + out + err and TOKEN not in log + out + err


def test_each_gunicorn_worker_freezes_what_loading_the_app_allocated(app):
    """A worker's start-up objects are taken out of the collector's way once the app is loaded
    (serving.settle_heap): otherwise every full collection during a 500-patient page walks them."""
    import gc

    from monitor import gunicorn_conf
    gc.unfreeze()
    try:
        gunicorn_conf.post_worker_init(worker=None)
        assert gc.get_freeze_count() > 10_000
        assert gc.get_count()[0] < 100  # collected first, so no garbage is kept for ever
    finally:
        gc.unfreeze()


def test_gunicorn_with_the_shipped_config_refuses_to_start_on_a_database_behind_the_code(tmp_path):
    behind = tmp_path / "behind.db"
    with sqlite3.connect(behind) as conn:  # what the gate reads: the revision of an earlier release
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.execute("INSERT INTO alembic_version VALUES ('0011_audit_patients')")
    conn.close()
    instance = private_instance(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "python:monitor.gunicorn_conf", "-w", "1", "-b",
         f"127.0.0.1:{free_port()}", f"monitor:create_app(instance_path={str(instance)!r})"],
        cwd=tmp_path, env=server_env(DATABASE_URL=f"sqlite:///{behind}", SECRET_KEY="k" * 32,
                                     BASE_URL="https://clinic.example"),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            stop_process(proc)
    assert proc.returncode != 0  # gunicorn halts, rather than start workers again and again
    assert "Refusing to serve" in err and "flask --app monitor db upgrade" in err, err
    assert "Worker failed to boot" in err


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
        assert http_get(port, "/healthz?probe=1")[0] == 200
    finally:
        out, err = stop_process(proc, signal.SIGTERM)
    lines = [json.loads(line) for line in err.splitlines() if line.strip()]  # fails on any other line
    assert any(line["logger"] == "gunicorn.error" for line in lines)
    [request] = [line for line in lines if line["logger"] == "monitor.requests"]
    assert (request["route"], request["status"], request["user_id"]) == ("/healthz", 200, None)
    assert "probe" not in err
