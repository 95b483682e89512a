"""GET /healthz: for a load balancer, without signing in; 200 after one database round trip,
503 when the database cannot answer (tried for real: a server that is not there, a database
that does not exist, a SQLite file in a folder that does not exist); nothing else in the answer,
and no trace of the probe in sessions, rate limits or the audit log."""
import socket
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from monitor import create_app, timeutil
from monitor.config import engine_options
from monitor.extensions import db
from monitor.models import AuditEvent, RateLimitHit, UserSession, WebSession
from tests.factories import NOW, counted_queries, free_port, login


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_ok_after_one_query_without_signing_in(client):
    client.get("/healthz")  # warm: the first request of a test app may set things up
    with counted_queries() as statements:
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert statements == ["SELECT 1"]


def test_the_answer_says_nothing_more(client):
    response = client.get("/healthz")
    assert response.data.strip() == b'{"status":"ok"}'  # no version, no name, no count of anything
    assert response.headers["Cache-Control"] == "no-store"
    assert response.mimetype == "application/json"
    assert "Set-Cookie" not in response.headers
    assert client.head("/healthz").status_code == 200


@pytest.mark.parametrize("where", ["closed port", "no such database", "sqlite in a missing folder"])
def test_unavailable_when_the_database_cannot_answer(where, tmp_path, frozen_clock, caplog):
    url = {
        "closed port": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/monitor",
        # A server that answers (the tests' PostgreSQL, 127.0.0.1:5432), without this database.
        "no such database": "postgresql+psycopg://postgres@127.0.0.1:5432/monitor_no_such_database",
        "sqlite in a missing folder": f"sqlite:///{tmp_path}/missing/monitor.db",
    }[where]
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with caplog.at_level("WARNING", logger="monitor.health"):
        response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable"}
    assert response.headers["Cache-Control"] == "no-store"
    assert "the database did not answer (OperationalError" in caplog.text
    with app.app_context():
        db.engine.dispose()


def test_a_probe_makes_no_session_and_sets_no_cookie_even_with_csrf_on(app, client):
    app.config["WTF_CSRF_ENABLED"] = True
    for _ in range(3):
        response = client.get("/healthz")
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
    assert count(WebSession) == 0 and count(UserSession) == 0
    # Only GET and HEAD: a POST is "not allowed", never a CSRF refusal or a rate limit.
    assert client.post("/healthz").status_code == 405


def test_a_probe_with_a_signed_in_cookie_neither_touches_nor_ends_the_session(client, users):
    login(client, users.provider_a)
    [row] = db.session.scalars(select(UserSession)).all()
    seen = row.last_seen_at
    timeutil.freeze(NOW + timedelta(minutes=5))  # past the minute after which a page touches it
    try:
        response = client.get("/healthz")
        assert response.status_code == 200 and "Set-Cookie" not in response.headers
        db.session.expire_all()
        assert db.session.scalar(select(UserSession.last_seen_at)) == seen
        timeutil.freeze(NOW + timedelta(hours=1))  # idle for longer than a provider may be
        assert client.get("/healthz").status_code == 200
        db.session.expire_all()
        assert db.session.scalar(select(UserSession.ended_at)) is None  # ended by the next page, not by a probe
    finally:
        timeutil.freeze(NOW)


def test_probes_are_not_audited(client, users):
    login(client, users.provider_a)
    before = count(AuditEvent)
    for _ in range(3):
        client.get("/healthz")
    assert count(AuditEvent) == before


def test_probes_are_never_rate_limited(app, client):
    app.config["RATELIMIT_ENABLED"] = True
    assert all(client.get("/healthz").status_code == 200 for _ in range(50))
    assert count(RateLimitHit) == 0


def test_a_database_host_that_never_answers_is_unavailable_within_seconds(frozen_clock):
    """A host that takes the connection and says nothing (a firewall dropping packets, a hung
    server): PostgreSQL's connect_timeout (config.engine_options) ends the wait, so the load
    balancer hears 503 instead of waiting for the operating system's minutes."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()  # the handshake completes; nothing is ever read or written
        url = f"postgresql+psycopg://postgres@127.0.0.1:{silent.getsockname()[1]}/monitor"
        app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url,
                          "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url)})
        answers = []
        probe = threading.Thread(target=lambda: answers.append(app.test_client().get("/healthz")), daemon=True)
        probe.start()
        probe.join(timeout=60)  # without connect_timeout it would still be waiting
        assert answers and answers[0].status_code == 503
        with app.app_context():
            db.engine.dispose()
