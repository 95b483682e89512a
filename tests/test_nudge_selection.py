"""Who the nudge runner selects (SPEC 5), now decided in the database a page at a time: it must
pick exactly the recipients that SPEC 5 read straight picks, one patient at a time. Hand-made
awkward cases (zones either side of midnight, a zone change, every reason not to nudge), then
random small clinics (hypothesis), then the number of queries, which must not grow with the
clinic (only by a page of recipients)."""
from datetime import date, datetime, time, timedelta, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from monitor import delivery, nudges, schedule
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import DELIVERY_STATUSES, CheckIn, Nudge, PatientStatusChange, User
from monitor.timeutil import is_valid_timezone
from tests.factories import add_checkin, add_patient, add_provider, counted_queries

# 23:30 on Thursday 26 November in New York; 04:30 on Friday 27 November in London.
LATE_EVENING = datetime(2026, 11, 27, 4, 30, tzinfo=timezone.utc)
THURSDAY, FRIDAY = date(2026, 11, 26), date(2026, 11, 27)


# --- SPEC 5 read straight: every patient, one at a time.

def rule_nudges(now: datetime) -> tuple[list[tuple[int, date]], int]:
    """(patient, date) of each nudge due at `now`, in id order, and how many records of those
    patients' dates are stuck in "sending"."""
    due, stuck = [], 0
    for patient in db.session.scalars(select(User).order_by(User.id)):
        if not (patient.is_patient and patient.status == "active" and patient.active
                and not patient.email_opt_out and patient.password_hash):
            continue
        if not is_valid_timezone(patient.timezone):
            continue
        previous = patient.previous_timezone
        day = schedule.date_to_nudge(now, patient.timezone, patient.reminder_time,
                                     previous_zone=previous if previous and is_valid_timezone(previous) else None,
                                     zone_changed_at=patient.timezone_changed_at)
        if day is None:
            continue
        record = db.session.scalar(select(Nudge).where(Nudge.patient_id == patient.id, Nudge.local_date == day))
        if record is not None and record.status == "sending" and record.claimed_at <= now - delivery.STUCK_AFTER:
            stuck += 1
        if db.session.scalar(select(CheckIn.id).where(CheckIn.patient_id == patient.id, CheckIn.local_date == day)):
            continue
        if record is not None and not (record.status in ("pending", "failed") and record.attempts < 3
                                       and record.next_attempt_at <= now):
            continue
        due.append((patient.id, day))
    return due, stuck


def rule_lapsed(now: datetime, lapse_days: int) -> set[int]:
    lapsed = set()
    for patient in db.session.scalars(select(User).where(User.role == "patient")):
        if patient.status != "active" or not patient.active or not is_valid_timezone(patient.timezone):
            continue
        dates = db.session.scalars(select(CheckIn.local_date).where(CheckIn.patient_id == patient.id)).all()
        returned = db.session.scalar(select(func.max(PatientStatusChange.changed_at)).where(
            PatientStatusChange.patient_id == patient.id, PatientStatusChange.status == "active"))
        first_day = schedule.counting_from(patient.timezone, patient.created_at, returned)
        if schedule.is_lapsed(dates, schedule.local_date(now, patient.timezone), lapse_days, first_day=first_day):
            lapsed.add(patient.id)
    return lapsed


def selected(now: datetime) -> tuple[list[tuple[int, date]], int]:
    due, stuck = nudges.due_nudges(now)
    return [(r.id, r.local_date) for r in due], stuck


def add_nudge(patient: User, day: date, status: str, *, attempts: int = 1, next_attempt_at: datetime,
              claimed_at: datetime | None = None) -> None:
    db.session.add(Nudge(patient_id=patient.id, local_date=day, status=status, attempts=attempts,
                         next_attempt_at=next_attempt_at, claimed_at=claimed_at, created_at=next_attempt_at))
    db.session.commit()


# --- Awkward cases by hand.

def test_the_selection_picks_exactly_the_patients_the_rule_names_in_awkward_cases(app, caplog):
    now = LATE_EVENING
    ago = now - timedelta(minutes=30)
    expected = []

    def due(patient, day):
        expected.append((patient.id, day))
        return patient

    # Either side of midnight: New York's Thursday is ending, London's Friday has begun.
    due(add_patient("ny-2300@example.test", reminder_time=time(23, 0)), THURSDAY)
    add_patient("ny-2345@example.test", reminder_time=time(23, 45))                      # not yet
    due(add_patient("ldn-0400@example.test", timezone="Europe/London", reminder_time=time(4, 0)), FRIDAY)
    add_patient("ldn-1900@example.test", timezone="Europe/London")                       # Friday's 19:00 to come
    due(add_patient("ldn-0430@example.test", timezone="Europe/London", reminder_time=time(4, 30)), FRIDAY)  # to the minute
    add_patient("ldn-0430-1us@example.test", timezone="Europe/London", reminder_time=time(4, 30, 0, 1))
    due(add_patient("pago@example.test", timezone="Pacific/Pago_Pago", reminder_time=time(17, 0)), THURSDAY)
    due(add_patient("kiritimati@example.test", timezone="Pacific/Kiritimati", reminder_time=time(18, 0)), FRIDAY)
    due(add_patient("kathmandu@example.test", timezone="Asia/Kathmandu", reminder_time=time(10, 15)), FRIDAY)
    add_patient("kathmandu-1016@example.test", timezone="Asia/Kathmandu", reminder_time=time(10, 16))
    # Check-ins: the date's own stops it, another date's does not.
    add_checkin(add_patient("done@example.test"), THURSDAY, 7)
    add_checkin(due(add_patient("yesterday@example.test"), THURSDAY), THURSDAY - timedelta(days=1), 7)
    add_checkin(add_patient("ldn-done@example.test", timezone="Europe/London", reminder_time=time(0, 0)), FRIDAY, 7)
    # Not to be nudged at all.
    add_patient("paused@example.test", status="paused")
    add_patient("discharged@example.test", status="discharged")
    add_patient("optout@example.test", email_opt_out=True)
    add_patient("invited@example.test", password=False)
    add_patient("closed@example.test", active=False)
    mars = add_patient("mars@example.test", timezone="Mars/Olympus_Mons")
    add_provider("staff@clinic.test")
    # Records of the date: done, in progress, backing off, or given up, are in the way.
    for status, attempts, next_at in [("sent", 1, ago), ("sending", 1, ago), ("skipped", 1, ago),
                                      ("failed", 1, now + timedelta(minutes=1)), ("failed", 3, ago),
                                      ("abandoned", 3, ago)]:
        add_nudge(add_patient(f"{status}-{attempts}-{next_at:%M}@example.test"), THURSDAY, status, attempts=attempts,
                  next_attempt_at=next_at, claimed_at=now - timedelta(minutes=5))
    # ... a pending record, a failure whose backoff is over, or a record of another date are not.
    add_nudge(due(add_patient("pending@example.test"), THURSDAY), THURSDAY, "pending", attempts=0, next_attempt_at=ago)
    add_nudge(due(add_patient("retry@example.test"), THURSDAY), THURSDAY, "failed", attempts=2, next_attempt_at=now)
    add_nudge(due(add_patient("old@example.test"), THURSDAY), THURSDAY - timedelta(days=1), "sent", next_attempt_at=ago)
    # Stuck in "sending" since an hour ago: counted, not sent.
    add_nudge(add_patient("stuck@example.test"), THURSDAY, "sending", next_attempt_at=now - timedelta(hours=1),
              claimed_at=now - timedelta(hours=1))
    # Zone changes. New York at 18:00 to Tokyo (08:00 on Friday): Thursday's 19:00 is carried.
    tokyo = add_patient("tokyo@example.test", timezone="Asia/Tokyo", previous_timezone="America/New_York",
                        timezone_changed_at=datetime(2026, 11, 26, 23, 0, tzinfo=timezone.utc))
    due(tokyo, THURSDAY)
    add_checkin(add_patient("tokyo-done@example.test", timezone="Asia/Tokyo", previous_timezone="America/New_York",
                            timezone_changed_at=datetime(2026, 11, 26, 23, 0, tzinfo=timezone.utc)), THURSDAY, 7)
    # The same move ten days ago carries nothing: Tokyo's own Friday, 13:30 there.
    add_patient("tokyo-long-ago@example.test", timezone="Asia/Tokyo", previous_timezone="America/New_York",
                timezone_changed_at=now - timedelta(days=10))
    due(add_patient("tokyo-1300@example.test", timezone="Asia/Tokyo", reminder_time=time(13, 0),
                    previous_timezone="America/New_York", timezone_changed_at=now - timedelta(days=10)), FRIDAY)
    # Moved west from London after its nudge: Thursday comes round again in New York, nudged once.
    west = add_patient("west@example.test", previous_timezone="Europe/London",
                       timezone_changed_at=datetime(2026, 11, 26, 19, 5, tzinfo=timezone.utc))
    add_nudge(west, THURSDAY, "sent", next_attempt_at=datetime(2026, 11, 26, 19, 0, tzinfo=timezone.utc))

    with caplog.at_level("WARNING", logger="monitor.nudges"):
        chosen, stuck = selected(now)
    assert chosen == sorted(expected)
    assert (chosen, stuck) == rule_nudges(now)
    assert stuck == 1
    assert f"patient {mars.id} has an unknown time zone" in caplog.text


def test_a_dry_run_lists_the_recipients_with_their_address_first_name_and_date_and_writes_nothing(app):
    alice = add_patient("alice@example.test", first_name=" Alice ")
    add_patient("bob@example.test", timezone="Europe/London")  # 04:30 on Friday: his 19:00 is to come
    tokyo = add_patient("tokyo@example.test", timezone="Asia/Tokyo", previous_timezone="America/New_York",
                        timezone_changed_at=datetime(2026, 11, 26, 23, 0, tzinfo=timezone.utc))
    summary = nudges.run(LATE_EVENING, dry_run=True)
    assert summary.would_nudge == [nudges.Recipient(alice.id, "alice@example.test", "Alice", THURSDAY),
                                   nudges.Recipient(tokyo.id, "tokyo@example.test", "", THURSDAY)]
    assert db.session.scalar(select(func.count()).select_from(Nudge)) == 0


# --- Random small clinics.

ZONES = ["America/New_York", "Europe/London", "Asia/Tokyo", "Pacific/Kiritimati", "Pacific/Pago_Pago",
         "Asia/Kathmandu", "America/Havana", "Australia/Lord_Howe"]
# Evenings, midnights and this year's daylight-saving changes in New York, London and Havana.
INSTANTS = [datetime.fromisoformat(t) for t in (
    "2026-11-26T20:00:00+00:00", "2026-03-07T12:00:00+00:00", "2026-10-31T12:00:00+00:00",
    "2026-03-28T12:00:00+00:00", "2026-10-24T12:00:00+00:00")]
SETTINGS = settings(max_examples=50, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

a_patient = st.fixed_dictionaries({
    "zone": st.sampled_from(ZONES),
    "reminder": st.one_of(st.sampled_from([time(19, 0), time(0, 0), time(23, 59), time(1, 30), time(2, 30)]),
                          st.times()),
    "status": st.sampled_from(["active", "active", "active", "paused", "discharged"]),
    "opted_out": st.sampled_from([False, False, False, True]),
    "invited": st.sampled_from([False, False, False, True]),
    "enrolled_days_ago": st.integers(0, 20),
    "moved": st.none() | st.tuples(st.sampled_from(ZONES), st.integers(-120, 60 * 60)),  # minutes before now
    "checkins": st.sets(st.integers(-12, 1), max_size=5),      # days from now's date in UTC
    # A record: its day, status, attempts, minutes to its next attempt, minutes since its claim.
    "record": st.none() | st.tuples(st.sampled_from([0, 0, -1, 1]), st.sampled_from([*DELIVERY_STATUSES, "sending"]),
                                    st.integers(0, 3),
                                    st.integers(-20, 20), st.integers(0, 30)),
    "returned_days_ago": st.none() | st.integers(0, 8),
})
a_clinic = st.tuples(
    st.sampled_from(INSTANTS).flatmap(lambda t: st.integers(0, 48 * 60).map(lambda m: t + timedelta(minutes=m))),
    st.lists(a_patient, min_size=2, max_size=6),
    st.integers(1, 4),
)


def build_clinic(now: datetime, people: list[dict]) -> None:
    for table in reversed(db.metadata.sorted_tables):  # a fresh clinic for each example
        db.session.execute(table.delete())
    db.session.commit()
    provider = add_provider("staff@clinic.test")
    for n, p in enumerate(people):
        moved = {}
        if p["moved"] is not None:
            zone, minutes = p["moved"]
            moved = {"previous_timezone": zone, "timezone_changed_at": now - timedelta(minutes=minutes)}
        patient = add_patient(f"p{n}@example.test", timezone=p["zone"], reminder_time=p["reminder"], status=p["status"],
                              email_opt_out=p["opted_out"], password=not p["invited"], providers=[provider],
                              created_at=now - timedelta(days=p["enrolled_days_ago"], hours=n), **moved)
        for offset in sorted(p["checkins"]):
            add_checkin(patient, now.date() + timedelta(days=offset), 5)
        if p["record"] is not None:
            offset, status, attempts, minutes, claimed = p["record"]
            add_nudge(patient, schedule.local_date(now, p["zone"]) + timedelta(days=offset), status, attempts=attempts,
                      next_attempt_at=now + timedelta(minutes=minutes), claimed_at=now - timedelta(minutes=claimed))
        if p["returned_days_ago"] is not None:
            db.session.add(PatientStatusChange(patient_id=patient.id, status="active",
                                               changed_at=now - timedelta(days=p["returned_days_ago"])))
            db.session.commit()


@SETTINGS
@given(clinic=a_clinic)
def test_random_clinics_select_exactly_whom_the_rule_names(app, clinic):
    now, people, lapse_days = clinic
    build_clinic(now, people)
    assert selected(now) == rule_nudges(now)
    assert nudges.lapsed_patient_ids(now, lapse_days) == rule_lapsed(now, lapse_days)


def test_lapsed_patients_and_digests_follow_the_rule_in_awkward_cases(app):
    get_clinic()
    now = datetime(2026, 11, 30, 13, 30, tzinfo=timezone.utc)  # 08:30 on Monday the 30th in New York
    paula = add_provider("paula@clinic.test")
    long_ago = now - timedelta(days=200)

    def patient(email, checkins, **fields):
        p = add_patient(email, providers=[paula], created_at=long_ago, **fields)
        for day in checkins:
            add_checkin(p, day, 7)
        return p

    lena = patient("lena@example.test", [date(2026, 11, 26)])                 # 27th, 28th, 29th missed
    patient("kim@example.test", [date(2026, 11, 27)])                         # two missed
    today = patient("today@example.test", [date(2026, 11, 20), date(2026, 11, 30)])  # today's is no help
    patient("never@example.test", [])                                         # nothing missed yet
    patient("paused@example.test", [date(2026, 11, 1)], status="paused")
    east = patient("east@example.test", [date(2026, 11, 27)], timezone="Pacific/Kiritimati")  # 03:30 on 1 December
    patient("tokyo@example.test", [date(2026, 11, 27)], timezone="Asia/Tokyo")  # 22:30 on Monday: two missed
    new = patient("new@example.test", [date(2026, 11, 20)])
    new.created_at = datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc)       # enrolled on the 28th
    back = patient("back@example.test", [date(2026, 11, 1)])
    db.session.add(PatientStatusChange(patient_id=back.id, status="active", changed_at=now - timedelta(days=2)))
    db.session.commit()
    assert nudges.lapsed_patient_ids(now, 3) == rule_lapsed(now, 3) == {lena.id, today.id, east.id}
    assert nudges.lapsed_patient_ids(now, 2) == rule_lapsed(now, 2)
    [digest], stuck = nudges.due_digests(now)
    assert (digest.id, digest.patient_count, stuck) == (paula.id, 3, 0)


# --- Queries: a fixed number, and one more per page of recipients.

def clinic_of(count: int, now: datetime, start: int = 0, moved: bool = True) -> None:
    """`count` patients of every kind the selection treats differently (those who moved zone
    lately are read apart, two queries per CHUNK: `moved` False puts others in their place)."""
    provider = db.session.scalar(select(User).where(User.email == "staff@clinic.test")) or add_provider(
        "staff@clinic.test")
    kinds = [
        {},                                                                  # due
        {"reminder_time": time(23, 59)},                                     # not yet late
        {"status": "paused"},
        {"email_opt_out": True},
        {"timezone": "Asia/Tokyo", "previous_timezone": "America/New_York",  # moved: a carried date
         "timezone_changed_at": datetime(2026, 11, 26, 23, 0, tzinfo=timezone.utc)},
    ]
    for n in range(start, start + count):
        kind = kinds[n % len(kinds)] if moved or n % len(kinds) < 4 else {}
        patient = add_patient(f"q{n}@example.test", providers=[provider], created_at=now - timedelta(days=30), **kind)
        if n % 3 == 0:
            add_checkin(patient, now.date() - timedelta(days=10), 5)         # lapsed since


def selection_queries(now: datetime) -> tuple[int, int, int]:
    """Queries of the selection as a sending run makes it (reading every recipient); recipients."""
    with counted_queries() as statements:
        due, _ = nudges.due_nudges(now)
        recipients = sum(1 for _ in due)
        digests, _ = nudges.due_digests(now)
    return len(statements), recipients, len(digests)


def test_the_selection_makes_the_same_queries_for_a_small_and_a_five_times_larger_clinic(app, monkeypatch):
    get_clinic()
    now = LATE_EVENING
    monkeypatch.setattr(nudges, "CHUNK", 3)  # lists of ids, were any read, would take many queries
    clinic_of(10, now)
    small = selection_queries(now)
    clinic_of(40, now, start=10, moved=False)
    large = selection_queries(now)
    assert small[1:] == (4, 1) and large[1:] == (20, 1)  # due: 2 of every 5
    assert large[0] == small[0]


def test_each_further_page_of_recipients_costs_one_query(app, monkeypatch):
    get_clinic()
    now = LATE_EVENING
    clinic_of(50, now)
    whole, recipients, _ = selection_queries(now)
    lapsed = len(nudges.lapsed_patient_ids(now, 3))
    monkeypatch.setattr(nudges, "PAGE", 3)
    paged, same, _ = selection_queries(now)
    assert same == recipients == 20 and lapsed == 14

    def pages(rows):  # keyset pages: the last one is short (or empty)
        return rows // 3 + 1

    # 10 due by zone (the 10 moved ones are read apart, CHUNK at a time) and 14 lapsed, each
    # page of those with its query for the panels.
    assert paged - whole == (pages(10) - 1) + 2 * (pages(14) - 1)
