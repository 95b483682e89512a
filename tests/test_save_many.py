"""checkins.save_many, the CSV import's way in: the same rows and revisions as save_checkin
would make one at a time, in batches."""
import pytest
from sqlalchemy import select

from monitor import checkins
from monitor.checkins import save_checkin, save_many
from monitor.extensions import db
from monitor.models import CheckIn, CheckInRevision
from tests.factories import NOW, add_checkin, answers_for, day


def columns(checkin: CheckIn) -> dict:
    return {c.name: getattr(checkin, c.name) for c in CheckIn.__table__.columns if c.name != "id"}


@pytest.mark.parametrize("batch", [2, 1000])
def test_save_many_stores_what_save_checkin_would(users, monkeypatch, batch):
    monkeypatch.setattr(checkins, "BATCH", batch)
    alice, bob = users.patient_a, users.patient_b
    earlier = add_checkin(alice, day(-2), 9, note="first answer", now=NOW.replace(hour=1))
    entries = [
        (alice, day(-3), answers_for(5), {"nausea": 2}, None),
        (alice, day(-2), answers_for(12), {}, "changed my mind"),  # replaces `earlier`
        (alice, day(0), answers_for(0), {}, None),
        (bob, day(-1), answers_for(21), {"vision": 3}, "bad day"),
        (bob, day(-5), answers_for(7), {}, None),
    ]
    replaced = save_many(iter(entries), source="import", now=NOW)
    db.session.commit()
    assert replaced == 1
    stored = {(c.patient_id, c.local_date): columns(c) for c in db.session.scalars(select(CheckIn))}
    # Start again and store the same entries through save_checkin, one at a time.
    db.session.rollback()
    [revision] = db.session.scalars(select(CheckInRevision)).all()
    assert (revision.checkin_id, revision.total, revision.note) == (earlier.id, 9, "first answer")
    assert revision.replaced_at == NOW
    db.session.execute(CheckInRevision.__table__.delete())
    db.session.execute(CheckIn.__table__.delete())
    add_checkin(alice, day(-2), 9, note="first answer", now=NOW.replace(hour=1))
    for entry in entries:
        save_checkin(*entry, source="import", now=NOW)
    one_by_one = {(c.patient_id, c.local_date): columns(c) for c in db.session.scalars(select(CheckIn))}
    db.session.rollback()
    assert stored == one_by_one
