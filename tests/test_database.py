"""How the app talks to its database."""
import pytest
from sqlalchemy import event, text

from monitor import config, create_app
from monitor.config import engine_options
from monitor.extensions import db
from tests.factories import login


def test_sqlite_runs_in_write_ahead_log_mode(app):
    """Readers never wait for the writer, and a commit is an append (issue 9: the check-in
    write path under many concurrent phones)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: this run is on PostgreSQL")
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL


POSTGRES = "postgresql+psycopg://monitor@db.internal/monitor"


def test_postgresql_keeps_one_connection_per_worker_thread_and_caps_the_rest():
    """Issue 9: a pool sized for the web server, not SQLAlchemy's 5 + 10 per process."""
    sync = engine_options(POSTGRES)
    assert (sync["pool_size"], sync["max_overflow"], sync["pool_pre_ping"]) == (1, 1, True)
    threaded = engine_options(POSTGRES, threads=8)
    assert (threaded["pool_size"], threaded["max_overflow"]) == (8, 8)
    assert threaded["pool_timeout"] < 30  # gunicorn's worker timeout
    assert "pool_size" not in engine_options("sqlite:///x.db")


def test_the_pool_follows_web_threads_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("DATABASE_URL", "postgresql://monitor@db.internal/monitor")
    monkeypatch.setenv("SECRET_KEY", "x")
    monkeypatch.setenv("WEB_THREADS", "4")
    app = create_app({**config.defaults(str(tmp_path)), "TESTING": True})
    with app.app_context():  # the engine is made without connecting
        assert db.engine.pool.size() == 4
        assert db.engine.pool.overflow() == -4  # none open yet, up to 4 more allowed
    monkeypatch.delenv("WEB_THREADS")
    assert config.defaults(str(tmp_path))["SQLALCHEMY_ENGINE_OPTIONS"]["pool_size"] == 1


def test_requests_of_a_worker_reuse_its_connection(app, users):
    """A connection per request would cost PostgreSQL a new backend every time."""
    client = app.test_client()
    login(client, users.patient_a)
    connects = []

    def connected(*args):
        connects.append(1)

    event.listen(db.engine, "connect", connected)
    try:
        for _ in range(5):
            assert client.get("/checkin").status_code == 200
    finally:
        event.remove(db.engine, "connect", connected)
    assert connects == []


def test_sqlite_checks_no_connection_before_each_transaction():
    """pool_pre_ping guards against a database server that went away; a file cannot."""
    assert engine_options("sqlite:///x.db")["pool_pre_ping"] is False
