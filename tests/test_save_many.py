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


def test_a_date_stored_by_a_concurrent_request_meanwhile_is_replaced_not_refused(app, users):
    """Between save_checkin's look for the date and its insert, another request (here a thread,
    with its own connection) stores that date: the insert gives way and replaces it."""
    import threading

    from sqlalchemy import event

    alice = users.patient_a
    done = []

    def meanwhile(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO checkins") and threading.current_thread() is threading.main_thread() \
                and not done:
            def other_request():
                with app.app_context():
                    add_checkin(db.session.get(type(alice), alice.id), day(0), 3, submission_key="theirs")
            thread = threading.Thread(target=other_request)
            thread.start()
            thread.join()
            done.append(1)

    event.listen(db.engine, "before_cursor_execute", meanwhile)
    try:
        result = save_checkin(alice, day(0), answers_for(14), {}, None, submission_key="mine")
    finally:
        event.remove(db.engine, "before_cursor_execute", meanwhile)
    db.session.commit()
    assert done and result.outcome == "replaced"
    assert (result.checkin.total, result.checkin.submission_key) == (14, "mine")
    assert [r.total for r in result.checkin.revisions] == [3]


def test_a_checkin_loaded_before_it_is_replaced_reads_the_new_answers(users):
    loaded = add_checkin(users.patient_a, day(0), 4)
    assert loaded.total == 4
    save_checkin(users.patient_a, day(0), answers_for(11), {}, None)
    assert loaded.total == 11  # in the same transaction, before any commit
