"""How the app talks to its database."""
import pytest
from sqlalchemy import text

from monitor.extensions import db


def test_sqlite_runs_in_write_ahead_log_mode(app):
    """Readers never wait for the writer, and a commit is an append (issue 9: the check-in
    write path under many concurrent phones)."""
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only: this run is on PostgreSQL")
    assert db.session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    assert db.session.execute(text("PRAGMA synchronous")).scalar() == 1  # NORMAL
