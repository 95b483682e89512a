"""`flask --app monitor backup PATH` and `restore PATH` (monitor/backups.py).

SQLite backups are made on a SQLite database even when the suite runs on PostgreSQL
(TEST_DATABASE_URL): for PostgreSQL the commands print pg_dump / pg_restore commands, tested
at the end."""
import os
import sqlite3
import stat
import threading
import time
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from flask_migrate import downgrade, upgrade
from sqlalchemy import func, select

import monitor
from monitor import create_app
from monitor.schema_version import code_revisions
from monitor.extensions import db
from monitor.models import CheckIn, User
from tests.factories import add_checkin, day, events, login

HEAD = code_revisions(str(Path(monitor.__file__).parent / "migrations")).head  # the newest, whichever


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    path = tmp_path_factory.mktemp("backups") / "template.db"
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})
    with app.app_context():
        upgrade()
        db.engine.dispose()
    return path


@pytest.fixture
def db_url(sqlite_template, tmp_path):
    """Always a SQLite database, migrated: the one these commands copy."""
    live = tmp_path / "live" / "monitor.db"
    live.parent.mkdir()
    live.write_bytes(sqlite_template.read_bytes())
    return f"sqlite:///{live}"


@pytest.fixture
def live(db_url):
    return db_url.removeprefix("sqlite:///")


def _checkins_in(path) -> list:
    conn = sqlite3.connect(path)
    try:
        return [d for (d,) in conn.execute("SELECT local_date FROM checkins ORDER BY local_date")]
    finally:
        conn.close()


def _integrity(path) -> str:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


# --- A round trip while the app writes.

def test_a_backup_made_while_check_ins_are_saved_is_a_consistent_prefix_and_restores(
        app, runner, client, users, tmp_path):
    dates = [day(-n) for n in range(120, 0, -1)]  # saved oldest first, each committed
    patient_id, provider_id = users.patient_a.id, users.provider_a.id
    saved, failure = [], []

    def patient_checks_in():  # the real save path, in a connection of its own, as a request
        with app.app_context():
            try:
                patient = db.session.get(User, patient_id)
                for n, on in enumerate(dates):
                    add_checkin(patient, on, total=n % 22)
                    saved.append(on)
            except Exception as error:  # noqa: BLE001 (reported by the test below)
                failure.append(error)
            finally:
                db.session.remove()

    writer = threading.Thread(target=patient_checks_in)
    writer.start()
    while len(saved) < 5 and writer.is_alive():
        time.sleep(0.01)
    copy = tmp_path / "during.db"
    before, result, after = len(saved), runner.invoke(args=["backup", str(copy)]), len(saved)
    writer.join(timeout=120)
    assert not failure and len(saved) == len(dates)
    assert result.exit_code == 0, result.output

    assert _integrity(copy) == "ok"
    in_copy = [str(d) for d in _checkins_in(copy)]
    assert before <= len(in_copy) <= after < len(dates)  # taken while the patient was checking in
    assert in_copy == [str(d) for d in dates[:len(in_copy)]]  # every check-in up to one commit, none after
    assert f"{len(in_copy)} check-ins" in result.output and "2 patients" in result.output

    db.session.remove()
    restored = runner.invoke(args=["restore", "--yes", str(copy)])
    assert restored.exit_code == 0, restored.output
    assert f"{len(in_copy)} check-ins" in restored.output and "Start the app." in restored.output
    db.session.remove()  # what the test's session had loaded is gone with the old database
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == len(in_copy)
    login(client, db.session.get(User, provider_id))
    page = client.get(f"/patients/{patient_id}")
    assert page.status_code == 200 and "Alice" in page.text


# --- What a backup is.

def test_a_backup_is_private_whole_and_says_what_it_holds_without_names(app, runner, users, live, tmp_path):
    add_checkin(users.patient_a, day(-1), total=9)
    copy = tmp_path / "copy.db"
    result = runner.invoke(args=["backup", str(copy)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(copy.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_file()) == ["copy.db"]  # no temporary file left
    assert not os.path.exists(f"{copy}-wal")  # one self-contained file
    assert f"schema revision {HEAD} (this release's), 2 patients, 1 check-in" in result.output
    assert "KB" in result.output
    for name in ("Alice", "Archer", "alice@", "Bob", "pa@clinic"):
        assert name not in result.output
    assert [e.detail for e in events("database.backed_up")] == [f"cli, to {copy.resolve()}"]


def test_an_existing_file_is_replaced_only_with_force(app, runner, tmp_path):
    copy = tmp_path / "copy.db"
    copy.write_text("an older backup")
    refused = runner.invoke(args=["backup", str(copy)])
    assert refused.exit_code == 1
    assert f"Error: {copy} already exists: give another name, or --force to replace it" in refused.output
    assert copy.read_text() == "an older backup"
    assert runner.invoke(args=["backup", "--force", str(copy)]).exit_code == 0
    assert _integrity(copy) == "ok"


@pytest.mark.parametrize("where, message", [
    ("missing/copy.db", "the folder {tmp}/missing does not exist"),
    (".", "{tmp} is a folder: give the backup's file name"),
])
def test_a_backup_path_that_cannot_be_written_is_refused_with_a_message(app, runner, tmp_path, where, message):
    result = runner.invoke(args=["backup", str(tmp_path / where)])
    assert result.exit_code == 1
    assert message.format(tmp=tmp_path) in result.output
    assert "Traceback" not in result.output


def test_the_live_database_is_never_a_backup_path(app, runner, live):
    result = runner.invoke(args=["backup", "--force", live])
    assert result.exit_code == 1 and "is the live database itself" in result.output
    assert _integrity(live) == "ok"


def test_a_database_behind_the_code_is_backed_up_and_its_restore_says_to_upgrade(app, runner, tmp_path):
    downgrade(revision="-1")  # before an upgrade is when a backup matters most
    copy = tmp_path / "before-upgrade.db"
    made = runner.invoke(args=["backup", str(copy)])
    assert made.exit_code == 0, made.output
    previous = ScriptDirectory(str(Path(monitor.__file__).parent / "migrations")).get_revision(HEAD).down_revision
    assert f"schema revision {previous} (an earlier release's)" in made.output
    upgrade()
    restored = runner.invoke(args=["restore", "--yes", str(copy)])
    assert restored.exit_code == 0, restored.output
    assert "run flask --app monitor db upgrade, then start the app" in restored.output


# --- What a restore accepts.

def _restore(runner, path, answer: str | None = None):
    args = ["restore", str(path)] + ([] if answer is not None else ["--yes"])
    return runner.invoke(args=args, input=answer)


def _other_apps_database(path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)")
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('abc123')")
    conn.close()


def _newer_backup(runner, path) -> None:
    assert runner.invoke(args=["backup", str(path)]).exit_code == 0
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_a_newer_release'")
    conn.close()


def _damaged_backup(runner, path) -> None:
    assert runner.invoke(args=["backup", str(path)]).exit_code == 0
    data = bytearray(path.read_bytes())
    data[len(data) // 2:len(data) // 2 + 4096] = b"\xff" * 4096  # a page of the middle overwritten
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("make, message", [
    (lambda runner, p: None, "{p}: no such file"),
    (lambda runner, p: p.write_text("patient_email,date\n"), "{p} is not a SQLite database"),
    (lambda runner, p: _other_apps_database(p), "{p} is not a backup of this app"),
    (_newer_backup, "{p} was made by a newer release (schema revision 0099_from_a_newer_release), which this "
                    "release cannot read: install that release to restore it"),
    (_damaged_backup, "{p} is damaged"),
], ids=["missing", "not a database", "another app's", "newer", "damaged"])
def test_a_backup_that_cannot_be_restored_is_refused_and_changes_nothing(app, runner, users, live, tmp_path,
                                                                        make, message):
    path = tmp_path / "backup.db"
    make(runner, path)
    before = _checkins_in(live), db.session.scalar(select(func.count()).select_from(User))
    result = _restore(runner, path)
    assert result.exit_code == 1
    assert message.format(p=path) in result.output, result.output
    assert "Traceback" not in result.output
    assert (_checkins_in(live), db.session.scalar(select(func.count()).select_from(User))) == before


def test_a_restore_asks_first_and_says_what_it_replaces(app, runner, users, live, tmp_path):
    copy = tmp_path / "copy.db"
    assert runner.invoke(args=["backup", str(copy)]).exit_code == 0  # three patients, no check-in
    add_checkin(users.patient_a, day(-1), total=9)
    declined = _restore(runner, copy, answer="n\n")
    assert declined.exit_code == 1
    assert "Backup" in declined.output and "0 check-ins" in declined.output
    assert "Database" in declined.output and "1 check-in" in declined.output
    assert "must be stopped" in declined.output
    assert len(_checkins_in(live)) == 1

    db.session.remove()
    accepted = _restore(runner, copy, answer="y\n")
    assert accepted.exit_code == 0, accepted.output
    assert _checkins_in(live) == []
    assert stat.S_IMODE(os.stat(live).st_mode) == 0o600
    db.session.remove()
    assert [e.detail for e in events("database.restored")] == [f"cli, from {copy.resolve()}"]


def test_a_restore_onto_a_new_machine_creates_the_database_privately(app, runner, tmp_path):
    copy = tmp_path / "copy.db"
    assert runner.invoke(args=["backup", str(copy)]).exit_code == 0
    new = tmp_path / "new-machine" / "monitor.db"
    new.parent.mkdir()
    other = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{new}"})
    with other.app_context():  # as `flask` pushes it
        result = other.test_cli_runner().invoke(args=["restore", "--yes", str(copy)])
    assert result.exit_code == 0, result.output
    assert "Database" in result.output and "empty" in result.output
    assert _integrity(new) == "ok" and stat.S_IMODE(new.stat().st_mode) == 0o600


# --- PostgreSQL: its own tools.

POSTGRES = "postgresql+psycopg://monitor:s3cret-pa55@db.internal:6543/clinic?sslmode=verify-full"


@pytest.fixture
def postgres_runner():
    """The commands of an app configured for a PostgreSQL server, which they never connect to."""
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": POSTGRES})
    with app.app_context():  # as `flask` pushes it
        yield app.test_cli_runner()


def test_on_postgresql_backup_prints_the_pg_dump_command_without_the_password(postgres_runner):
    result = postgres_runner.invoke(args=["backup", "/var/backups/monitor 2026-12-01.dump"])
    assert result.exit_code == 1  # nothing was backed up: a scheduled job must not look as if it had
    assert ("pg_dump --format=custom --host=db.internal --port=6543 --username=monitor "
            "--dbname='dbname=clinic sslmode=verify-full' --file='/var/backups/monitor 2026-12-01.dump'") in result.output
    assert "PGPASSWORD" in result.output and "~/.pgpass" in result.output
    assert "s3cret" not in result.output and "pa55" not in result.output


def test_on_postgresql_restore_prints_the_pg_restore_command_without_the_password(postgres_runner):
    result = postgres_runner.invoke(args=["restore", "monitor.dump"])
    assert result.exit_code == 1
    assert ("pg_restore --clean --if-exists --no-owner --single-transaction --exit-on-error --host=db.internal "
            "--port=6543 --username=monitor --dbname='dbname=clinic sslmode=verify-full' monitor.dump") in result.output
    assert "flask --app monitor db upgrade" in result.output
    assert "s3cret" not in result.output and "pa55" not in result.output
