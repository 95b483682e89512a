"""The app serves only a database at its own schema (monitor/schema_version.py): one behind it
(or empty) or ahead of it is refused with a 503, and the log says which command to run, while
the command line (db upgrade, db current, backup) still works on it."""
import logging
from pathlib import Path
from contextlib import contextmanager

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

import monitor
from monitor import create_app, schema_version
from monitor.extensions import db
from monitor.schema_version import Status, classify, code_revisions, migrations_directory
from tests.factories import counted_queries

MIGRATIONS = str(Path(monitor.__file__).parent / "migrations")
HEAD = code_revisions(MIGRATIONS).head  # the code's newest revision, whichever that is now

FUTURE = "0099_from_a_newer_release"


@pytest.fixture
def code(app):
    return code_revisions(migrations_directory(app))


@pytest.fixture
def restore_head(app):
    """Whatever the test did to the schema, the latest one after it (PostgreSQL is shared)."""
    yield
    db.session.rollback()  # a page's unfinished transaction (the clinic row it made) holds SQLite's lock
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM alembic_version WHERE version_num = :v"), {"v": FUTURE})
    upgrade()


def _set_revision(revision: str) -> None:
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = :v"), {"v": revision})


@contextmanager
def operator_log(caplog):
    """caplog, listening to the gate's logger itself: a migration run by the test (Alembic's
    fileConfig) replaces the root logger's handlers, caplog's among them."""
    logger = logging.getLogger("monitor.schema_version")
    logger.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.ERROR, logger=logger.name):
            yield
    finally:
        logger.removeHandler(caplog.handler)


def _refused(client, caplog) -> str:
    """The refusal a request gets, and what the log told the operator."""
    with operator_log(caplog):
        response = client.get("/login")
    assert response.status_code == 503
    assert response.headers["Cache-Control"] == "no-store"
    assert response.text == schema_version.REFUSED_PAGE  # no revision, no command: those are in the log
    return caplog.text


# --- The four states, and what the operator is told.

def test_the_states_and_their_messages(code):
    head = code.head
    # The head is the newest script's revision, whichever that is now.
    scripts = sorted(p.stem for p in (Path(MIGRATIONS) / "versions").glob("0*.py"))
    assert head == scripts[-1] and "0001_initial" in code.known and len(code.known) == len(scripts)
    assert classify((head,), code).status is Status.AT_HEAD and classify((head,), code).problem is None
    behind = classify(("0011_audit_patients",), code)
    assert behind.status is Status.BEHIND
    assert behind.problem == ("The database schema is at revision 0011_audit_patients, behind this release's "
                              f"{head}. Back it up (flask --app monitor backup PATH), then run: "
                              "flask --app monitor db upgrade")
    empty = classify((), code)
    assert empty.status is Status.EMPTY and "flask --app monitor db upgrade" in empty.problem
    newer = classify((FUTURE,), code)
    assert newer.status is Status.NEWER
    assert f"revision {FUTURE}" in newer.problem
    assert "this database was upgraded by a newer release: install that release" in newer.problem
    assert "db upgrade" not in newer.problem  # upgrading cannot help; this release cannot downgrade it


# --- The gate.

def test_a_database_at_head_is_served_and_checked_only_on_the_first_request(app, client):
    assert client.get("/login").status_code == 200
    assert app.extensions["schema_gate"].passed
    with counted_queries() as statements:
        assert client.get("/login").status_code == 200
    assert not [s for s in statements if "alembic_version" in s]


def test_a_database_behind_is_refused_until_db_upgrade_runs_which_still_works(app, client, runner, caplog,
                                                                              restore_head):
    downgrade(revision="-1")
    log = _refused(client, caplog)
    assert f"behind this release's {HEAD}" in log and "flask --app monitor db upgrade" in log
    assert client.get("/patients").status_code == 503  # every page, not only the first one asked for

    assert runner.invoke(args=["db", "current"]).exit_code == 0
    upgraded = runner.invoke(args=["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    # No restart needed: a refused process checks again.
    assert client.get("/login").status_code == 200


def test_an_empty_database_is_behind(app, client, caplog, restore_head):
    downgrade(revision="base")
    log = _refused(client, caplog)
    assert "no schema yet" in log and "flask --app monitor db upgrade" in log


def test_a_database_from_a_newer_release_is_refused(app, client, caplog, restore_head):
    _set_revision(FUTURE)
    log = _refused(client, caplog)
    assert "install that release" in log
    _set_revision(code_revisions(migrations_directory(app)).head)
    assert client.get("/login").status_code == 200


def test_the_refusal_is_logged_once_not_once_a_request(app, client, caplog, restore_head):
    downgrade(revision="-1")
    with operator_log(caplog):
        for _ in range(3):
            assert client.get("/login").status_code == 503
    assert caplog.text.count("Refusing to serve") == 1


def test_a_database_that_cannot_be_reached_is_no_verdict(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path}/missing/folder/x.db"})
    gate = app.extensions["schema_gate"]
    assert gate.check() is None and not gate.passed  # the request goes on (and fails, or /healthz says 503)


def test_the_demo_migrates_a_database_behind_and_serves_it(app, runner, monkeypatch, restore_head):
    downgrade(revision="-1")
    served = []
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("monitor.cli.run_simple",
                        lambda host, port, app, **kw: served.append(app.test_client().get("/login").status_code))
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    assert served == [200]
