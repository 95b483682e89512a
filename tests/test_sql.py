"""monitor/sql.py. insert_rows: many rows in one go (COPY on PostgreSQL), stored exactly as an
INSERT would store them, inside the caller's transaction, and counted as a write by the
clinic's version. date_list: a group's dates as one value, read back by dates_of."""
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from monitor.extensions import db
from monitor.models import CheckIn, WriteVersion
from monitor.sql import date_list, dates_of, insert_rows
from tests.factories import NOW, add_checkin, add_checkins, day

# An instant given in another zone: stored and read back as the same instant, in UTC.
SUBMITTED = NOW.astimezone(ZoneInfo("America/New_York"))
NOTE = 'tab\there, a new\nline, a back\\slash, "quotes", and ünïcode'


def row(patient, local_date, **fields) -> dict:
    return {"patient_id": patient.id, "local_date": local_date, "total": 7, "submitted_at": SUBMITTED,
            "late_entry": True, "source": "import", "note": NOTE, "se_nausea": 2, "se_vision": None,
            **{f"q{i}": 1 for i in range(1, 8)}, **fields}


def version() -> int:
    db.session.rollback()
    return db.session.scalar(select(WriteVersion.n))


def test_rows_are_stored_as_an_insert_would_store_them(app, users):
    patient = users.patient_a
    insert_rows(CheckIn.__table__, [row(patient, day(-2)), row(patient, day(-1), q7=3, total=9, note=None)])
    db.session.commit()
    first, second = db.session.scalars(select(CheckIn).where(CheckIn.patient_id == patient.id)
                                       .order_by(CheckIn.local_date)).all()
    assert (first.local_date, first.total, first.q1, first.q7, first.note) == (day(-2), 7, 1, 1, NOTE)
    assert (first.se_nausea, first.se_vision, first.late_entry, first.source) == (2, None, True, "import")
    assert first.submitted_at == NOW and first.submitted_at.utcoffset() == timedelta(0)
    assert first.submitted_at.tzinfo == timezone.utc
    assert (second.local_date, second.total, second.q7, second.note) == (day(-1), 9, 3, None)


def test_the_write_moves_the_clinics_version_when_it_commits(app, users):
    """COPY goes round SQLAlchemy's statement events: without its own mark, a worker would
    go on showing a kept dashboard without the imported check-ins."""
    before = version()
    insert_rows(CheckIn.__table__, [row(users.patient_a, day(-3))])
    db.session.commit()
    assert version() == before + 1


def test_nothing_is_kept_when_the_transaction_rolls_back(app, users):
    before = version()
    insert_rows(CheckIn.__table__, [row(users.patient_a, day(-3))])
    db.session.rollback()
    assert db.session.scalar(select(CheckIn.id).where(CheckIn.patient_id == users.patient_a.id)) is None
    assert version() == before


def test_a_duplicate_raises_what_an_insert_raises_and_stores_nothing(app, users):
    add_checkin(users.patient_a, day(-1), 5)
    with pytest.raises(IntegrityError):
        insert_rows(CheckIn.__table__, [row(users.patient_a, day(-2)), row(users.patient_a, day(-1))])
    db.session.rollback()
    stored = db.session.scalars(select(CheckIn.local_date).where(CheckIn.patient_id == users.patient_a.id)).all()
    assert stored == [day(-1)]


def test_a_column_with_a_default_must_be_named(app, users):
    """The defaults are Python's, which COPY never applies: refused on every database alike."""
    incomplete = row(users.patient_a, day(-1))
    del incomplete["source"], incomplete["late_entry"]
    with pytest.raises(ValueError, match="no value for late_entry, source"):
        insert_rows(CheckIn.__table__, [incomplete])


def test_no_rows_is_no_write(app, users):
    before = version()
    insert_rows(CheckIn.__table__, [])
    db.session.commit()
    assert version() == before


def test_date_list_gives_each_groups_dates(app, users):
    add_checkins(users.patient_a, {day(-40): 5, day(-3): 7, day(-1): 9, day(0): 4})
    add_checkins(users.patient_b, {day(-2): 12})
    rows = db.session.connection().execute(
        select(CheckIn.patient_id, date_list(CheckIn.local_date)).where(CheckIn.local_date >= day(-3))
        .group_by(CheckIn.patient_id)).all()
    assert {patient_id: sorted(dates_of(dates)) for patient_id, dates in rows} == {
        users.patient_a.id: [day(-3), day(-1), day(0)], users.patient_b.id: [day(-2)]}
