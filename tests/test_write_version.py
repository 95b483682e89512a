"""The clinic's write version (monitor/write_version.py): every committed write to what pages
read moves it, in the same transaction; nothing else does. What a worker keeps between views
rests on it (the property test of the kept dashboard is in tests/test_stored_analysis.py)."""
import re

import pytest
from sqlalchemy import select, text, update

from monitor import analysis, dashboard, report, write_version
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import WriteVersion
from tests.factories import NOW, add_audit_event, add_checkin, add_patient, day, executed_statements, login


def version() -> int:
    """How many times the version has moved, as a new transaction sees it."""
    db.session.rollback()
    return db.session.scalar(select(WriteVersion.n))


def test_the_migrations_create_the_counter(app):
    assert isinstance(version(), int)
    assert re.fullmatch(r"[0-9a-f]{32}", write_version.current_token())


def test_each_move_has_a_token_of_its_own(app, users):
    seen = {write_version.current_token()}
    for total in (3, 9, 12):
        add_checkin(users.patient_a, day(0), total)
        db.session.rollback()
        seen.add(write_version.current_token())
    assert len(seen) == 4


def test_a_committed_write_moves_the_version_once(app, users):
    before = version()
    add_checkin(users.patient_a, day(0), 9)  # commits: a check-in and its stored analysis
    assert version() == before + 1


def test_a_rolled_back_write_leaves_it(app, users):
    before = version()
    users.patient_a.last_name = "Changed"
    db.session.flush()
    db.session.rollback()
    assert version() == before


def test_writes_to_tables_no_kept_value_reads_leave_it(app, users):
    """Every request writes these (the audit log, sign-in bookkeeping): they must not undo
    every worker's kept pages."""
    before = version()
    add_audit_event("dashboard.viewed", actor=users.provider_a)
    db.session.commit()
    assert version() == before


def test_raw_sql_that_writes_moves_it(app, users):
    before = version()
    db.session.execute(text("UPDATE users SET first_name = first_name WHERE id = :id"), {"id": users.patient_a.id})
    db.session.commit()
    assert version() == before + 1
    db.session.execute(text("SELECT count(*) FROM users"))
    db.session.commit()
    assert version() == before + 1


def test_a_page_view_leaves_it(client, users):
    login(client, users.provider_a)
    client.get("/patients")  # may refresh a stored analysis, and creates the clinic's settings
    before = version()
    for url in ("/patients", f"/patients/{users.patient_a.id}", "/report"):
        assert client.get(url).status_code == 200
    assert version() == before


def test_the_increment_is_the_last_write_of_its_transaction(app, users):
    """The row is locked from its UPDATE to the commit: last, so that lock is held for the
    commit alone and after every other lock of the transaction (no deadlock on PostgreSQL)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("read with SQLite's statement trace, which sees the driver's own cursors too")
    traced = []
    raw = db.session.connection().connection.dbapi_connection
    raw.set_trace_callback(traced.append)
    try:
        add_checkin(users.patient_a, day(0), 9)
    finally:
        raw.set_trace_callback(None)
    writes = [s for s in traced if s.split(None, 1)[0].upper() in {"INSERT", "UPDATE", "DELETE"}]
    assert len(writes) > 1 and writes[-1].startswith("UPDATE write_version SET n = n + 1, token = ")


def test_the_panels_reads_are_moved_by_every_table_they_read(app, users):
    """A kept dashboard is current only if no table it reads is among those whose writes leave
    the version alone."""
    add_patient("p@example.test", providers=[users.provider_a])
    with executed_statements() as executed:
        dashboard._load_panel(users.provider_a, NOW, analysis.settings_for(get_clinic()), lapse_days=3)
    read = {name.lower() for statement, _ in executed
            for name in re.findall(r'(?:FROM|JOIN)\s+"?(\w+)', statement, re.IGNORECASE)}
    assert read >= {"users", "checkins", "treatments", "patient_analyses", "care_team"}
    assert not read & write_version.UNREAD_TABLES


def reads_afresh(monkeypatch, module, name: str) -> list:
    """Wraps module.name (what a page runs when it reads afresh): one entry per call."""
    calls, real = [], getattr(module, name)
    monkeypatch.setattr(module, name, lambda *args, **kwargs: calls.append(1) or real(*args, **kwargs))
    return calls


@pytest.mark.parametrize("viewer, page, module, name", [
    ("provider_a", "/patients", dashboard, "_load_panel"),
    ("admin", "/report", report, "_build"),
])
def test_a_worker_keeps_a_page_until_a_write(client, users, monkeypatch, viewer, page, module, name):
    login(client, getattr(users, viewer))
    loads = reads_afresh(monkeypatch, module, name)
    client.get(page)
    client.get(page)
    settled = len(loads)
    client.get(page + "?page=1")
    if page == "/patients":
        client.get("/patients?flag=missed")
    assert len(loads) == settled  # filters and pages read what is kept
    add_checkin(users.patient_b, day(0), 12)  # another provider's patient: the clinic's median may move
    client.get(page)
    assert len(loads) == settled + 1


def test_without_the_counter_row_nothing_is_kept(client, users, monkeypatch):
    login(client, users.provider_a)
    db.session.query(WriteVersion).delete()
    db.session.commit()
    loads = reads_afresh(monkeypatch, dashboard, "_load_panel")
    client.get("/patients")
    client.get("/patients")
    assert len(loads) == 2


def test_a_restored_backup_is_not_mistaken_for_what_was_kept(client, users, monkeypatch):
    """A backup restored under a running app brings an older count back, and the counts after
    it come round again with other data behind them: what readers compare is each move's
    random token, which does not."""
    login(client, users.provider_a)
    client.get("/patients")
    client.get("/patients")  # kept at this version
    kept_n = version()
    add_checkin(users.patient_a, day(0), 9)  # the data changes...
    # ...and the counter is put back to what it was, as restoring a backup taken then would.
    # (Writes to the counter's own table do not move it.)
    db.session.execute(update(WriteVersion).values(n=kept_n))
    db.session.commit()
    assert version() == kept_n
    loads = reads_afresh(monkeypatch, dashboard, "_load_panel")
    client.get("/patients")
    assert len(loads) == 1


def test_a_full_cache_drops_what_was_read_longest_ago(app):
    class Value:
        def current_at(self, now):
            return True

    cache = write_version.Cache(size=2)
    loads = []

    def get(key):
        return cache.get(key, NOW, lambda: loads.append(key) or Value())

    get("a"), get("b"), get("a"), get("c")  # "b" was read longest ago
    assert loads == ["a", "b", "c"]
    get("a")
    assert loads == ["a", "b", "c"]
    get("b")
    assert loads == ["a", "b", "c", "b"]
