"""The clinic's write version, and the per-worker cache it makes safe (issue 9).

Every transaction that writes to a table pages read increments one counter (the write_version
row) as it commits, in that same transaction. A worker may then keep what a page read from the
database for as long as the version stays what it was: a view that finds the same version
reads nothing but that, and any committed write, by any worker, command or runner on
the same database, makes the next view read afresh.

The increment is caught at the engine, not asked of each write path, so no path can forget
it: any INSERT, UPDATE, DELETE or DDL statement marks its connection's transaction, and the
commit of a marked transaction moves the version just before the database commits. Last,
so the row's lock (PostgreSQL) is held for the commit alone and taken after every other lock:
two writers wait for each other there rather than deadlock. Writes to UNREAD_TABLES do not
mark: every request writes them (sign-in bookkeeping, the audit log, rate limits, mail) and no
cached value reads them.

Why this is never stale: a reader reads the version before anything else (Cache.get). Under
PostgreSQL's READ COMMITTED every later statement sees at least what had committed when the
version was read; SQLite's transaction keeps one snapshot from its first read. So a value kept
under version v holds every write up to v, and any later write shows as another version."""
from __future__ import annotations

import secrets
import threading
import weakref
from contextlib import contextmanager
from typing import Callable, Generic, Hashable, Protocol, TypeVar

from sqlalchemy import event, inspect, select, update
from sqlalchemy.engine import Connection, Engine

from .extensions import db
from .models import WriteVersion

# Tables whose writes leave the version alone. Only tables no cached value reads belong here:
# adding one that a cached page reads would let that page show stale figures
# (tests/test_write_version.py checks the dashboard's cached reads against this list).
UNREAD_TABLES = frozenset({
    "audit_events", "audit_event_patients",     # every page view is audited
    "user_sessions", "web_sessions",           # sign-in bookkeeping on every request
    "rate_limit_hits", "account_tokens", "recovery_codes",
    "outbox", "nudges", "provider_digests",     # mail and its delivery
    WriteVersion.__tablename__,
})
# Raw SQL is a write unless it starts with one of these (anything else counts, to be safe).
READ_VERBS = frozenset({"SELECT", "PRAGMA", "SHOW", "EXPLAIN", "SET", "BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT",
                        "RELEASE", "VALUES"})
_WROTE = "monitor.wrote"  # key in Connection.info: this transaction wrote something pages read
# The increment, in each driver's own parameter style (sqlite3: qmark, psycopg: %s).
BUMP_SQL = {"qmark": "UPDATE write_version SET n = n + 1, token = ? WHERE id = 1"}
BUMP_SQL_DEFAULT = "UPDATE write_version SET n = n + 1, token = %s WHERE id = 1"


def mark_written(conn: Connection, table_name: str) -> None:
    """For a write the statement events do not see (PostgreSQL's COPY, sent on the driver's
    own cursor): this transaction wrote to table_name, and its commit moves the version like
    any other write's."""
    if table_name not in UNREAD_TABLES:
        conn.info[_WROTE] = True


def _is_write(context, statement: str) -> bool:
    if context is not None and context.compiled is not None and not context.is_text:
        if context.isddl:
            return True
        if context.isinsert or context.isupdate or context.isdelete:
            table = getattr(context.compiled.statement, "table", None)
            return getattr(table, "name", None) not in UNREAD_TABLES
        return False  # a compiled SELECT
    words = statement.split(None, 1)
    return bool(words) and words[0].upper() not in READ_VERBS


def watch(engine: Engine) -> None:
    """Increment the write version in every transaction on this engine that writes what pages read."""
    @event.listens_for(engine, "after_cursor_execute")
    def mark(conn: Connection, cursor, statement, parameters, context, executemany):
        if not conn.info.get(_WROTE) and _is_write(context, statement):
            conn.info[_WROTE] = True

    @event.listens_for(engine, "commit")
    def bump(conn: Connection):
        # Called just before the DBAPI commit, still inside the transaction. The raw cursor:
        # no engine events, so no statement counter in the tests sees a page run it.
        if conn.info.pop(_WROTE, False) and not conn.info.get(MIGRATING) and _has_counter(conn):
            cursor = conn.connection.dbapi_connection.cursor()
            try:
                cursor.execute(BUMP_SQL.get(conn.dialect.paramstyle, BUMP_SQL_DEFAULT), (new_token(),))
            finally:
                cursor.close()

    @event.listens_for(engine, "begin")
    @event.listens_for(engine, "rollback")
    def forget(conn: Connection):
        conn.info.pop(_WROTE, None)


# Engines whose database has the counter. Only "yes" is remembered: a database behind this
# release (which it refuses to serve) gains the table when someone upgrades it, and from then on
# every commit must move it. migrating() forgets, for a downgrade.
_COUNTED: weakref.WeakSet[Engine] = weakref.WeakSet()


def _has_counter(conn: Connection) -> bool:
    if conn.engine not in _COUNTED:
        if not inspect(conn).has_table(WriteVersion.__tablename__):
            return False  # a database at an earlier schema: nothing reads a version from it
        _COUNTED.add(conn.engine)
    return True


# Set on a migration's connection (migrations/env.py): until the migration that creates the
# counter has run there is none to increment; env.py increments it once at the end instead.
MIGRATING = "monitor.migrating"


@contextmanager
def migrating(connection: Connection):
    """Around migrations, inside their transaction: they may change anything pages read, so
    the version moves once at the end (when the counter exists by then)."""
    connection.info[MIGRATING] = True
    try:
        yield
        if inspect(connection).has_table(WriteVersion.__tablename__):
            connection.execute(update(WriteVersion).values(n=WriteVersion.n + 1, token=new_token()))
    finally:
        connection.info.pop(MIGRATING, None)
        connection.info.pop(_WROTE, None)
        _COUNTED.discard(connection.engine)


def new_token() -> str:
    """Each increment's own random token, which is what readers compare. Not the count: a
    backup restored under a running app brings an older count back, and counts after it would
    come round again with other data behind them; a token never does."""
    return secrets.token_hex(16)


def current_token() -> str | None:
    """The write version as this request's transaction sees it (None without the row: then
    nothing is kept)."""
    return db.session.scalar(select(WriteVersion.token).where(WriteVersion.id == 1))


def wrote_in_this_transaction() -> bool:
    """Whether this request's own transaction has written what pages read and not yet
    committed: it must read its own writes, which no version number covers yet."""
    return bool(db.session.connection().info.get(_WROTE))


class Current(Protocol):
    def current_at(self, now) -> bool:
        """Whether time alone has not yet changed the value (a local midnight, a planned session)."""


V = TypeVar("V", bound=Current)


class Cache(Generic[V]):
    """Values read from the database, kept by this worker while the write version is the one
    they were read at and they say they are still current. At most `size` of them, the one
    read longest ago dropped first: one per staff member who opens the page, and staff come
    and go through a day."""

    def __init__(self, size: int = 32):
        self._size = size
        self._values: dict[Hashable, tuple[str, V]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, now, load: Callable[[], V]) -> V:
        version = current_token()  # first: what is read after it is at least this new
        if version is None or wrote_in_this_transaction():
            return load()
        kept = self._values.get(key)
        if kept is not None and kept[0] == version and kept[1].current_at(now):
            with self._lock:  # now the most recently read
                if self._values.get(key) is kept:
                    self._values[key] = self._values.pop(key)
            return kept[1]
        value = load()
        if wrote_in_this_transaction():
            return value  # it refreshed stored figures: kept once they commit (a new version)
        with self._lock:
            self._values.pop(key, None)
            while len(self._values) >= self._size:
                self._values.pop(next(iter(self._values)))
            self._values[key] = (version, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
