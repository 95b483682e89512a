"""The one retry scheme of every email the runner sends: nudges and digests (nudges.py) and the
outbox of emails that requests produce (outbox.py). A row of theirs (models.DeliveryState) is
claimed before its email leaves and records how that went.

1. A runner owns an attempt only when its conditional UPDATE moves the row from "pending" or
   "failed" (fewer than MAX_ATTEMPTS attempts, backoff over) to "sending" and so reports one
   row changed. The database serialises competing UPDATEs of a row (PostgreSQL's row lock,
   then a re-check of the WHERE clause against the committed row; SQLite's database lock),
   so for each attempt exactly one runner sees a change and every other sees none.
2. The claim is committed before the email leaves; only then does the owner send, and it
   records "sent", or "failed" with a time for the next attempt, or "abandoned" after the
   last. A row left in "sending" (the process died between sending and recording) is never
   sent again automatically: a second email is worse than none. It is reported.

Logs name rows by table and id, and errors by class: never an address, a name or a subject."""
from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import and_, select, update
from sqlalchemy.exc import OperationalError

from . import mail
from .extensions import db

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
# Wait before the 2nd and the 3rd attempt.
BACKOFF = (timedelta(minutes=2), timedelta(minutes=10))
CLAIMABLE = ("pending", "failed")
# What a failed delivery raises: refused, unreachable, timed out (SMTPException is an OSError).
SEND_ERRORS = (OSError, smtplib.SMTPException)
# After this many failed deliveries in a row, a run stops sending and leaves the rest unclaimed
# for the next run, rather than waiting out a timeout per recipient while the server is down.
STOP_AFTER_CONSECUTIVE_FAILURES = 3
# A row in "sending" for longer than this was left by a run that ended mid-send.
STUCK_AFTER = timedelta(minutes=10)


@dataclass
class Tally:
    """What a run did with one kind of email."""

    sent: int = 0
    failed: int = 0       # will be retried on a later run
    abandoned: int = 0    # the last attempt failed
    not_sent: int = 0     # another runner had it, or it was no longer wanted

    def text(self) -> str:
        return f"{self.sent} sent, {self.failed} failed, {self.abandoned} abandoned, {self.not_sent} not sent"


@dataclass
class Streak:
    """Failed deliveries in a row, across every kind of email of one run: a server that is
    down is down for all of them."""

    failures: int = 0

    @property
    def stop(self) -> bool:
        return self.failures >= STOP_AFTER_CONSECUTIVE_FAILURES


@dataclass
class Run:
    """What one delivery run did: what `deliver-mail` and `send-nudges` both report. Counts only."""

    now: datetime
    dry_run: bool = False
    mail: Tally = field(default_factory=Tally)  # the outbox (outbox.py)
    streak: Streak = field(default_factory=Streak)
    stuck: int = 0  # rows found left in "sending" by an earlier run: not resent
    would_mail: list[int] = field(default_factory=list)

    @property
    def stopped_early(self) -> bool:
        return self.streak.stop

    def _endings(self, line: str) -> str:
        """The summary line, with what any run may add: rows found stuck, an early stop."""
        if self.stuck:
            line += f" {self.stuck} left in 'sending' by an earlier run (not resent)."
        if self.stopped_early:
            line += " Stopped early: the mail server kept failing."
        return line


def claimable(table, now: datetime):
    """A row whose next attempt may be taken now: the claim's condition, and what a selection
    of work leaves in (a row that is not claimable is in the way)."""
    return and_(table.c.status.in_(CLAIMABLE), table.c.attempts < MAX_ATTEMPTS, table.c.next_attempt_at <= now)


def stuck(table, now: datetime):
    """In "sending" for longer than any send takes: a run ended between sending and recording."""
    return and_(table.c.status == "sending", table.c.claimed_at <= now - STUCK_AFTER)


def claim(model, record_id: int, now: datetime) -> int | None:
    """Take the next attempt of this row; its number, or None when another runner has it,
    it is done, or its backoff has not run out. The caller commits before sending."""
    table = model.__table__
    result = db.session.execute(
        update(table)
        .where(table.c.id == record_id, claimable(table, now))
        .values(status="sending", attempts=table.c.attempts + 1, claimed_at=now)
    )
    if result.rowcount != 1:
        return None
    return db.session.scalar(select(table.c.attempts).where(table.c.id == record_id))


def finish(model, record_id: int, **values) -> None:
    """Record the outcome of the attempt this runner claimed, and commit."""
    table = model.__table__
    db.session.execute(update(table).where(table.c.id == record_id, table.c.status == "sending").values(**values))
    # Each email's outcome in its own transaction: what was sent stays recorded as sent even
    # if a later email of the same run fails.
    db.session.commit()


def record_failure(model, record_id: int, attempt: int, error: BaseException, now: datetime, tally: Tally,
                   **when_abandoned) -> None:
    """A failed attempt: "failed" until the backoff is over, "abandoned" (with `when_abandoned`
    set too) after the last. Commits."""
    # The class name only: an SMTP error's text can quote the recipient's address.
    name = type(error).__name__[:64]
    last = attempt >= MAX_ATTEMPTS
    try:
        if last:
            finish(model, record_id, status="abandoned", last_error=name, **when_abandoned)
        else:
            finish(model, record_id, status="failed", last_error=name, next_attempt_at=now + BACKOFF[attempt - 1])
    except OperationalError:
        # Left in "sending": never retried, which is the safe side.
        db.session.rollback()
        log.error("%s %s failed (%s) and could not be recorded; it stays in 'sending'",
                  model.__tablename__, record_id, name)
        tally.abandoned += 1
        return
    if last:
        tally.abandoned += 1
        log.warning("%s %s abandoned after %s attempts (%s)", model.__tablename__, record_id, attempt, name)
    else:
        tally.failed += 1
        log.warning("%s %s attempt %s failed (%s); will retry", model.__tablename__, record_id, attempt, name)


def send_claimed(model, record_id: int, attempt: int, msg: EmailMessage, now: datetime, tally: Tally,
                 streak: Streak, **when_done) -> None:
    """Send the email of an attempt this runner claimed (and committed), and record the
    outcome; `when_done` is also set once the row will never be sent again (sent or abandoned):
    the outbox wipes the message there."""
    try:
        mail.deliver(msg)
    except SEND_ERRORS as error:
        db.session.rollback()
        record_failure(model, record_id, attempt, error, now, tally, **when_done)
        streak.failures += 1
        return
    tally.sent += 1
    streak.failures = 0
    try:
        finish(model, record_id, status="sent", sent_at=now, last_error=None, **when_done)
    except OperationalError:
        # Sent, but not recorded: the row stays in "sending" and is never sent again.
        db.session.rollback()
        log.error("%s %s sent but not recorded as sent (database error); it stays in 'sending'",
                  model.__tablename__, record_id)
        return
    log.info("%s %s sent (attempt %s)", model.__tablename__, record_id, attempt)
