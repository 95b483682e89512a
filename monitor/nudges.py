"""Nudges and provider digests (SPEC 5): who is due, claim, send. mail.py is the transport;
schedule.py decides the dates; delivery.py the claims and retries; the command line is
nudges_cli.py, and a run delivers the outbox of emails that requests produced first (outbox.py).

Exactly once per recipient and local date, however many runners run at once: each nudge
(digest) has one row per patient (provider) and local date, created with INSERT ... ON
CONFLICT DO NOTHING, so every runner ends up looking at the same row; then that row is claimed,
sent and recorded as delivery.py describes. A patient who checks in between the claim and the
send is not nudged ("skipped").

Only the patient's current local date is nudged: a date that is over is missed, not nudged,
except the one date a zone change past midnight would skip (schedule.date_to_nudge). Logs and
printed summaries name records by id, never by address or name."""
from __future__ import annotations

import heapq
import logging
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from email.message import EmailMessage
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import and_, case, exists, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from . import crypto, delivery, mail, outbox, schedule, tokens
from .accounts import absolute_url
from .delivery import Tally
from .extensions import db
from .models import (
    CheckIn,
    Clinic,
    Nudge,
    PatientStatus,
    PatientStatusChange,
    ProviderDigest,
    Role,
    User,
    care_team,
)
from .timeutil import is_valid_timezone, utcnow

log = logging.getLogger(__name__)

CHUNK = 500  # ids per IN (...) list
PAGE = 500  # recipients (or lapsed patients) read per query

NUDGE_SUBJECT = "Your daily check-in"


# --- What a run did.

@dataclass
class RunSummary(delivery.Run):
    """What one `send-nudges` run did: the outbox first, then nudges and digests (stuck rows
    are counted for the current dates only)."""

    nudges: Tally = field(default_factory=Tally)
    digests: Tally = field(default_factory=Tally)
    would_nudge: list[Recipient] = field(default_factory=list)
    would_digest: list[DigestRecipient] = field(default_factory=list)

    def line(self) -> str:
        when = self.now.isoformat(timespec="seconds")
        if self.dry_run:
            return (f"send-nudges {when} (dry run, nothing sent): {len(self.would_mail)} queued email(s), "
                    f"{len(self.would_nudge)} nudge(s) and {len(self.would_digest)} digest(s) would be sent.")
        return self._endings(f"send-nudges {when}: mail {self.mail.text()}; nudges {self.nudges.text()}; "
                             f"digests {self.digests.text()}.")


@dataclass(frozen=True)
class Recipient:
    """A patient due a nudge: plain values, so a commit does not reload the row."""

    id: int
    email: str
    first_name: str
    local_date: date


@dataclass(frozen=True)
class DigestRecipient:
    id: int
    email: str
    local_date: date
    patient_count: int


# --- Records and claims (shared by nudges and digests).

def _insert(table):
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise RuntimeError(f"nudges need INSERT ... ON CONFLICT, which {dialect} lacks here")


def _owner(model):
    return model.__table__.c.patient_id if model is Nudge else model.__table__.c.provider_id


def _create(model, owner_id: int, day: date, now: datetime, **extra) -> int:
    """The record of this recipient and date, created unless it exists; its id."""
    table, owner = model.__table__, _owner(model)
    db.session.execute(
        _insert(table)
        .values({owner.name: owner_id, "local_date": day, "status": "pending", "attempts": 0,
                 "next_attempt_at": now, "created_at": now, **extra})
        .on_conflict_do_nothing(index_elements=[owner.name, "local_date"])
    )
    return db.session.scalar(select(table.c.id).where(owner == owner_id, table.c.local_date == day))


def _blocked(model, owner_ids: list[int], dates: set[date], now: datetime) -> tuple[set[tuple[int, date]], set[tuple[int, date]]]:
    """(owner, date) pairs whose record cannot be claimed now, and those of them stuck in
    "sending". A query per CHUNK owners."""
    table, owner = model.__table__, _owner(model)
    blocked, stuck = set(), set()
    for ids in _chunks(owner_ids):
        for owner_id, day, claimable, stuck_there in db.session.execute(
            select(owner, table.c.local_date, delivery.claimable(table, now).label("claimable"),
                   delivery.stuck(table, now).label("stuck"))
            .where(owner.in_(ids), table.c.local_date.in_(sorted(dates)))
        ):
            if not claimable:
                blocked.add((owner_id, day))
            if stuck_there:
                stuck.add((owner_id, day))
    return blocked, stuck


def _chunks(ids: list[int]):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


# --- Patients by zone, a page at a time.
#
# Who is due is decided in the database, PAGE rows a query, so a clinic's worth of patients is
# never in memory. What depends on the zone (the local date, whether a reminder time has
# passed) is worked out in Python (schedule.py) once per zone: a clinic has many patients and
# few zones.

def _zones(patients) -> tuple[list[str], list[str]]:
    """The distinct zones of the patients matching this condition: (known, unknown)."""
    zones = sorted(db.session.scalars(select(User.timezone).where(patients).distinct()))
    return [z for z in zones if is_valid_timezone(z)], [z for z in zones if not is_valid_timezone(z)]


def _by_zone(values: dict[str, object]):
    """CASE users.timezone WHEN <zone> THEN <value> ... END: each patient's value for their zone."""
    return case(values, value=User.timezone)


def _pages(query) -> Iterator[list]:
    """The rows of a query on users, in id order, PAGE at a time (keyset pagination): each page
    is a query of its own, read whole, so no cursor stays open across the caller's commits."""
    query = query.order_by(User.id).limit(PAGE)
    rows = db.session.execute(query).all()
    while rows:
        yield rows
        if len(rows) < PAGE:
            return
        rows = db.session.execute(query.where(User.id > rows[-1].id)).all()


def _message_id(kind: str, owner_id: int, day: date) -> str:
    # One Message-ID per recipient and date: were a copy ever sent twice, mail systems that
    # drop duplicate Message-IDs (Gmail does) would show it once. Keyed (crypto.keyed_hash), so
    # it names nobody: the header is read by every server on the way.
    host = urlsplit(current_app.config.get("BASE_URL") or "").hostname or "monitor.local"
    return f"<{kind}-{crypto.keyed_hash(f'{kind}:{owner_id}:{day:%Y%m%d}', 'message-id')[:32]}@{host}>"


def _with_message_id(msg: EmailMessage, message_id: str) -> EmailMessage:
    del msg["Message-ID"]
    msg["Message-ID"] = message_id
    return msg


# --- Nudges.

def _nudgeable():
    """Patients who may be nudged at all: active, reachable, invitation accepted, not opted out."""
    return and_(
        User.role == Role.PATIENT.value,
        User.status == PatientStatus.ACTIVE.value,
        User.active.is_(True),
        User.email_opt_out.is_(False),
        User.password_hash.is_not(None),
        User.password_hash != "",
    )


def _moved_lately(now: datetime):
    """Patients whose zone change may still carry a date (schedule.CARRY_LIMIT). For everyone
    else schedule.date_to_nudge is "the current local date, once the reminder time has
    passed", which the database checks zone by zone."""
    return and_(User.previous_timezone.is_not(None), User.timezone_changed_at.is_not(None),
                User.timezone_changed_at >= now - schedule.CARRY_LIMIT)


def due_nudges(now: datetime) -> tuple[Iterator[Recipient], int]:
    """Patients late for the date schedule.date_to_nudge names (their current local date, or
    the one a zone change would have skipped) with no check-in for that date and no nudge
    record in the way, in id order; and how many records of those dates are stuck in "sending".

    The recipients are read as they are consumed, PAGE a query (the caller may commit in
    between). Besides those, three queries whatever the clinic's size, a fourth when some
    patient's zone is unknown, and two per CHUNK patients late after a recent zone change."""
    zones, unknown = _zones(_nudgeable())
    _log_unknown_zones(unknown)
    late_zones = {}
    for zone in zones:
        latest = schedule.latest_reminder_passed(now, zone)
        if latest is not None:
            late_zones[zone] = (schedule.local_date(now, zone), latest)
    moved, stuck = _due_after_moving(now)
    if not late_zones:
        return iter(moved), stuck
    today = _by_zone({zone: day for zone, (day, _) in late_zones.items()})
    late = and_(_nudgeable(), ~_moved_lately(now), User.timezone.in_(list(late_zones)),
                User.reminder_time <= _by_zone({zone: latest for zone, (_, latest) in late_zones.items()}))
    records = Nudge.__table__
    stuck += db.session.scalar(
        select(func.count()).select_from(records).join(User, records.c.patient_id == User.id)
        .where(late, records.c.local_date == today, delivery.stuck(records, now)))
    due = (select(User.id, User.email, User.first_name, today.label("local_date"))
           .where(late,
                  ~exists().where(CheckIn.patient_id == User.id, CheckIn.local_date == today),
                  ~exists().where(records.c.patient_id == User.id, records.c.local_date == today,
                                  ~delivery.claimable(records, now))))
    by_zone = (Recipient(patient_id, email, (first_name or "").strip(), day)
               for rows in _pages(due) for patient_id, email, first_name, day in rows)
    return heapq.merge(by_zone, moved, key=lambda r: r.id), stuck


def _log_unknown_zones(unknown: list[str]) -> None:
    if unknown:  # rare (zones are checked on input): a query for these patients' ids
        for patient_id in db.session.scalars(
                select(User.id).where(_nudgeable(), User.timezone.in_(unknown)).order_by(User.id)):
            log.warning("patient %s has an unknown time zone; not nudged", patient_id)


def _due_after_moving(now: datetime) -> tuple[list[Recipient], int]:
    """The few patients whose recent zone change may carry a date, each through
    schedule.date_to_nudge in full; those due, and how many of their records are stuck."""
    late = []
    for patient_id, email, first_name, zone, reminder, previous, changed_at in db.session.execute(
        select(User.id, User.email, User.first_name, User.timezone, User.reminder_time,
               User.previous_timezone, User.timezone_changed_at)
        .where(_nudgeable(), _moved_lately(now)).order_by(User.id)
    ):
        if not is_valid_timezone(zone):
            continue  # logged by _log_unknown_zones
        day = schedule.date_to_nudge(
            now, ZoneInfo(zone), reminder or schedule.DEFAULT_REMINDER,
            previous_zone=ZoneInfo(previous) if previous and is_valid_timezone(previous) else None,
            zone_changed_at=changed_at)
        if day is not None:
            late.append(Recipient(patient_id, email, (first_name or "").strip(), day))
    if not late:
        return [], 0
    ids, dates = [r.id for r in late], sorted({r.local_date for r in late})
    checked_in = set()
    for chunk in _chunks(ids):
        checked_in |= {(patient_id, day) for patient_id, day in db.session.execute(
            select(CheckIn.patient_id, CheckIn.local_date)
            .where(CheckIn.patient_id.in_(chunk), CheckIn.local_date.in_(dates))
        )}
    blocked, stuck = _blocked(Nudge, ids, set(dates), now)
    pairs = {(r.id, r.local_date) for r in late}
    return [r for r in late if (r.id, r.local_date) not in checked_in | blocked], len(stuck & pairs)


def _still_due(recipient: Recipient) -> bool:
    """Re-read just before sending: still nudgeable, and still no check-in for the date."""
    checked_in = exists().where(CheckIn.patient_id == recipient.id, CheckIn.local_date == recipient.local_date)
    return bool(db.session.scalar(
        select(User.id).where(User.id == recipient.id, _nudgeable(), ~checked_in)
    ))


def nudge_message(recipient: Recipient) -> EmailMessage:
    unsubscribe = absolute_url("unsubscribe.confirm", token=tokens.unsubscribe_token(recipient.id))
    msg = mail.render_message(
        "nudge", recipient.email,
        headers={"List-Unsubscribe": f"<{unsubscribe}>",
                 "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
        first_name=recipient.first_name,
        checkin_url=absolute_url("patient.checkin"),
        unsubscribe_url=unsubscribe,
    )
    return _with_message_id(msg, _message_id("nudge", recipient.id, recipient.local_date))


def send_nudges(now: datetime, summary: RunSummary) -> None:
    due, stuck = due_nudges(now)
    summary.stuck += stuck
    if stuck:
        log.warning("%s nudge(s) of the current dates are stuck in 'sending' (a run ended mid-send); "
                    "they are not resent", stuck)
    _deliver_all(Nudge, due, now, summary, summary.nudges, nudge_message, _still_due)


# --- Provider digests.

def _clinic_zone_and_lapse_days() -> tuple[str, int]:
    # Read, not created (unlike clinic.get_clinic): runners may run concurrently.
    clinic = db.session.scalar(select(Clinic).order_by(Clinic.id).limit(1))
    columns = Clinic.__table__.c
    zone = clinic.timezone if clinic and is_valid_timezone(clinic.timezone) else columns.timezone.default.arg
    lapse_days = clinic.lapse_days if clinic and clinic.lapse_days else columns.lapse_days.default.arg
    return zone, lapse_days


def _active_patient():
    return and_(User.role == Role.PATIENT.value, User.status == PatientStatus.ACTIVE.value, User.active.is_(True))


def lapsed_patient_pages(now: datetime, lapse_days: int) -> Iterator[list[int]]:
    """Active patients with `lapse_days` or more missed dates in a row, each in their own zone,
    a page of ids at a time (PAGE candidates a query, and one query for the zones).

    A patient's missed dates count from the later of their enrolment and their latest return
    to "active" (schedule.counting_from), so a pause is never counted as missed days."""
    todays = {zone: schedule.local_date(now, zone) for zone in _zones(_active_patient())[0]}
    if not todays:
        return
    today = _by_zone(todays)
    window = _by_zone({zone: _days_before(day, lapse_days) for zone, day in todays.items()})
    latest_before_today = (select(func.max(CheckIn.local_date))
                           .where(CheckIn.patient_id == User.id, CheckIn.local_date < today).scalar_subquery())
    returned = (select(func.max(PatientStatusChange.changed_at))
                .where(PatientStatusChange.patient_id == User.id,
                       PatientStatusChange.status == PatientStatus.ACTIVE.value).scalar_subquery())
    # The database keeps only the patients whose check-ins allow a lapse (schedule.missed_streak
    # counts from the latest check-in before today, so there is one, and none in the lapse_days
    # dates before today); schedule.is_lapsed then decides, with the enrolment and the return.
    candidates = (select(User.id, User.timezone, User.created_at, latest_before_today.label("last"),
                         returned.label("returned"))
                  .where(_active_patient(), User.timezone.in_(list(todays)),
                         exists().where(CheckIn.patient_id == User.id, CheckIn.local_date < today),
                         ~exists().where(CheckIn.patient_id == User.id, CheckIn.local_date >= window,
                                         CheckIn.local_date < today)))
    for rows in _pages(candidates):
        lapsed = [patient_id for patient_id, zone, created_at, last, returned_at in rows
                  if schedule.is_lapsed([last], todays[zone], lapse_days,
                                        first_day=schedule.counting_from(zone, created_at, returned_at))]
        if lapsed:
            yield lapsed


def _days_before(day: date, days: int) -> date:
    try:
        return day - timedelta(days=days)
    except OverflowError:  # a lapse longer than the calendar: no check-in is that old
        return date.min


def lapsed_patient_ids(now: datetime, lapse_days: int) -> set[int]:
    """Every lapsed patient's id (lapsed_patient_pages, gathered)."""
    return {patient_id for page in lapsed_patient_pages(now, lapse_days) for patient_id in page}


def due_digests(now: datetime) -> tuple[list[DigestRecipient], int]:
    """Staff due today's digest: 08:00 has passed in the clinic's zone, and at least one of the
    patients on their own panel is lapsed. A query per page of lapsed patients, and a fixed few
    besides (and one per CHUNK staff)."""
    zone, lapse_days = _clinic_zone_and_lapse_days()
    today = schedule.local_date(now, zone)
    if now < schedule.reminder_instant(today, schedule.DIGEST_TIME, zone):
        return [], 0
    counts: dict[int, int] = defaultdict(int)
    for lapsed in lapsed_patient_pages(now, lapse_days):
        for provider_id, patients in db.session.execute(
            select(care_team.c.provider_id, func.count())
            .where(care_team.c.patient_id.in_(lapsed)).group_by(care_team.c.provider_id)
        ):
            counts[provider_id] += patients
    if not counts:
        return [], 0
    providers = db.session.execute(
        select(User.id, User.email).where(
            User.id.in_(list(counts)),
            User.role.in_([Role.PROVIDER.value, Role.ADMIN.value]),
            User.active.is_(True),
            User.password_hash.is_not(None),
        ).order_by(User.id)
    ).all()
    blocked, stuck = _blocked(ProviderDigest, [p for p, _ in providers], {today}, now)
    due = [DigestRecipient(p, email, today, counts[p]) for p, email in providers if (p, today) not in blocked]
    return due, len(stuck)


def digest_message(recipient: DigestRecipient) -> EmailMessage:
    msg = mail.render_message(
        "provider_digest", recipient.email,
        count=recipient.patient_count,
        dashboard_url=absolute_url("provider.dashboard", flag="lapsed"),
    )
    return _with_message_id(msg, _message_id("digest", recipient.id, recipient.local_date))


def send_digests(now: datetime, summary: RunSummary) -> None:
    due, stuck = due_digests(now)
    summary.stuck += stuck
    _deliver_all(ProviderDigest, due, now, summary, summary.digests, digest_message, lambda r: True)


# --- The run.

def _deliver_all(model, recipients, now: datetime, summary: RunSummary, tally: Tally, build, still_due) -> None:
    for recipient in recipients:
        if summary.streak.stop:
            return
        msg = build(recipient)  # before claiming: a template error must not strand a claim
        extra = {"patient_count": recipient.patient_count} if model is ProviderDigest else {}
        try:
            record_id = _create(model, recipient.id, recipient.local_date, now, **extra)
            attempt = delivery.claim(model, record_id, now)
            db.session.commit()  # the claim is durable before anything is sent
        except OperationalError:
            # e.g. SQLite's lock wait ran out under many concurrent runners: nothing was
            # claimed, so a later run picks this recipient up.
            db.session.rollback()
            log.warning("%s for %s %s not claimed: database busy", model.__tablename__,
                        _owner(model).name, recipient.id)
            tally.not_sent += 1
            continue
        if attempt is None:
            tally.not_sent += 1  # another runner has it, or it is done
            continue
        if not still_due(recipient):
            delivery.finish(model, record_id, status="skipped")
            tally.not_sent += 1
            continue
        delivery.send_claimed(model, record_id, attempt, msg, now, tally, summary.streak)


def run(now: datetime | None = None, *, dry_run: bool = False) -> RunSummary:
    """Deliver the outbox, then send the nudges and digests due at `now` (default: the clock).
    A dry run writes nothing and sends nothing; it lists what would be sent."""
    now = (now or utcnow()).astimezone(timezone.utc)
    summary = RunSummary(now=now, dry_run=dry_run)
    if dry_run:
        summary.would_mail = outbox.queued_ids(now)
        due, summary.stuck = due_nudges(now)
        summary.would_nudge = list(due)
        summary.would_digest, _ = due_digests(now)
        db.session.rollback()
        return summary
    # Emails that requests produced first: someone may be waiting for a password reset.
    queued = outbox.deliver_due(now, streak=summary.streak)
    summary.mail, summary.stuck = queued.mail, queued.stuck
    send_nudges(now, summary)
    send_digests(now, summary)
    return summary
