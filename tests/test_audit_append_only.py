"""The audit log is append-only in the database itself (migration 0004 adds triggers)."""
import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError

from monitor.audit import record
from monitor.extensions import db
from monitor.models import AuditEvent
from tests.factories import events


@pytest.mark.parametrize("statement", [
    update(AuditEvent).values(action="tampered"),
    delete(AuditEvent),
])
def test_audit_events_cannot_be_changed_or_deleted(app, statement):
    record("login", detail="kept")
    db.session.commit()
    with pytest.raises(DatabaseError, match="append-only"):
        db.session.execute(statement)
        db.session.commit()
    db.session.rollback()
    assert [e.action for e in events()] == ["login"]
