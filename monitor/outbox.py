"""The outbox: every email a request produces (an invitation, a password reset) is a row added
in the request's own transaction, beside what caused it, and is sent later by the runner
(`flask --app monitor deliver-mail`, `send-nudges`, the demo's thread), never inside the
request: a slow or unreachable mail server can neither slow nor fail a page, nor tell one
answer from another. Claims and retries are delivery.py's, as for nudges, so two runners
never send a message twice.

A password reset is queued by the address typed, whoever it belongs to, and the runner looks
it up: the reset form does the same work, in the same time, for an address with an account and
one without (issue 10). The runner then issues the link and stores the email with its token in
one transaction, as a view does for an invitation.

A stored email holds a live single-use link. It is wiped (the row's other columns are kept)
once it will never be sent: sent, abandoned, skipped, or found stuck in "sending". Logs name
rows by id and kind, never a recipient or a subject."""
from __future__ import annotations

import email
import email.policy
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from email.message import EmailMessage

from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import OperationalError

from . import accounts, delivery
from .audit import record
from .delivery import Streak
from .extensions import db
from .models import OutboxMessage, User
from .timeutil import utcnow

log = logging.getLogger(__name__)

INVITATION = "invitation"
PASSWORD_RESET = "password_reset"
TWO_FACTOR_OFF = "two_factor_off"
PAGE = 200  # rows read per query
# What staff are told once an invitation is queued: honest about when it leaves.
INVITATION_QUEUED = "An invitation email with a link to set up their account is queued for sending."
# Once a row will never be sent, nothing of the email stays.
WIPED = {"message": None, "requested_address": None}


# --- Queueing, in the caller's transaction (the caller commits).

def queue(msg: EmailMessage, *, kind: str, user: User) -> OutboxMessage:
    """Add this email to the caller's transaction. A message of the same kind to the same
    account still waiting to be sent is dropped: the link it carries was just replaced."""
    _drop_waiting(kind, user.id)
    now = utcnow()
    row = OutboxMessage(kind=kind, user_id=user.id, message=bytes(msg), status="pending", attempts=0,
                        next_attempt_at=now, created_at=now)
    db.session.add(row)
    return row


def _drop_waiting(kind: str, user_id: int) -> None:
    """Skip this account's emails of this kind not yet claimed: their links no longer work.
    (One a runner has claimed goes out; its link just says it has been replaced.)"""
    table = OutboxMessage.__table__
    db.session.execute(
        update(table)
        .where(table.c.user_id == user_id, table.c.kind == kind, table.c.status.in_(delivery.CLAIMABLE))
        .values(status="skipped", **WIPED)
    )


def queue_invitation(user: User) -> OutboxMessage:
    """A new single-use link to set a password (accounts.invitation: its token, audited),
    queued with it; earlier links stop working. The caller commits."""
    return queue(accounts.invitation(user), kind=INVITATION, user=user)


def queue_two_factor_off(user: User) -> OutboxMessage:
    """A patient's link to turn a lost second factor off (accounts.two_factor_off), queued with
    its token. The caller commits."""
    return queue(accounts.two_factor_off(user), kind=TWO_FACTOR_OFF, user=user)


def queue_password_reset(address: str) -> OutboxMessage:
    """The reset form's answer, whatever the address: the runner looks it up and emails a link
    to an active account with a password; nothing is sent otherwise. Audited with the row's id
    (and the client's address), never the address typed. The caller commits."""
    now = utcnow()
    row = OutboxMessage(kind=PASSWORD_RESET, requested_address=accounts.normalise_email(address)[:254],
                        status="pending", attempts=0, next_attempt_at=now, created_at=now)
    db.session.add(row)
    db.session.flush()  # its id, for the audit event
    record("account.reset_requested", target_type="outbox", target_id=row.id)
    return row


# --- Delivering (the runner).

@dataclass
class OutboxRun(delivery.Run):
    """What one `deliver-mail` run did (a stuck row's message is wiped, not resent)."""

    def line(self) -> str:
        when = self.now.isoformat(timespec="seconds")
        if self.dry_run:
            return f"deliver-mail {when} (dry run, nothing sent): {len(self.would_mail)} queued email(s) would be sent."
        return self._endings(f"deliver-mail {when}: {self.mail.text()}.")


def queued_ids(now: datetime) -> list[int]:
    """The rows a run at `now` would try, in order."""
    return [row_id for page in _due_pages(now) for row_id in page]


def deliver_due(now: datetime | None = None, *, dry_run: bool = False, streak: Streak | None = None) -> OutboxRun:
    """Send every queued email whose next attempt is due at `now` (default: the clock), oldest
    first. `streak`: the failures in a row of a larger run (send-nudges) this is part of."""
    now = (now or utcnow()).astimezone(timezone.utc)
    run = OutboxRun(now=now, dry_run=dry_run, streak=streak or Streak())
    if dry_run:
        run.would_mail = queued_ids(now)
        db.session.rollback()
        return run
    run.stuck = _wipe_stuck(now)
    for page in _due_pages(now):
        for row_id in page:
            if run.streak.stop:
                return run
            _deliver_one(row_id, now, run)
    return run


def _due_pages(now: datetime):
    """The ids of the rows whose next attempt is due, PAGE a query (keyset on the id, so no
    cursor stays open across the commits between them)."""
    table = OutboxMessage.__table__
    query = select(table.c.id).where(delivery.claimable(table, now)).order_by(table.c.id).limit(PAGE)
    ids = db.session.scalars(query).all()
    while ids:
        yield ids
        if len(ids) < PAGE:
            return
        ids = db.session.scalars(query.where(table.c.id > ids[-1])).all()


def _wipe_stuck(now: datetime) -> int:
    """Rows an earlier run left in "sending" (it ended between sending and recording) are never
    sent again, so the link they hold goes; how many were found (each is reported once)."""
    table = OutboxMessage.__table__
    holding = and_(delivery.stuck(table, now),
                   or_(table.c.message.is_not(None), table.c.requested_address.is_not(None)))
    # Read first: a run that finds nothing (nearly every run) writes nothing.
    if db.session.scalar(select(table.c.id).where(holding).limit(1)) is None:
        return 0
    found = db.session.execute(update(table).where(holding).values(**WIPED)).rowcount
    db.session.commit()  # its own transaction: the wipe stands whatever the sends do
    log.warning("%s outbox message(s) left in 'sending' by a run that ended mid-send: not resent", found)
    return found


def _deliver_one(row_id: int, now: datetime, run: OutboxRun) -> None:
    try:
        attempt = delivery.claim(OutboxMessage, row_id, now)
        db.session.commit()  # the claim is durable before anything is sent
    except OperationalError:
        # e.g. SQLite's lock wait ran out under many concurrent runners: nothing was claimed,
        # so a later run takes it.
        db.session.rollback()
        log.warning("outbox %s not claimed: database busy", row_id)
        run.mail.not_sent += 1
        return
    if attempt is None:
        run.mail.not_sent += 1  # another runner has it, or it is done
        return
    row = db.session.get(OutboxMessage, row_id)
    if row.message is not None:
        msg = email.message_from_bytes(row.message, policy=email.policy.default)
    else:
        try:
            msg = _compose_reset(row)
        except Exception as error:  # noqa: BLE001 (a template or database error: retried like a failed send)
            db.session.rollback()
            delivery.record_failure(OutboxMessage, row_id, attempt, error, now, run.mail, **WIPED)
            return
        if msg is None:
            delivery.finish(OutboxMessage, row_id, status="skipped", **WIPED)
            run.mail.not_sent += 1
            return
        db.session.commit()  # the link's token and the email carrying it, together, before it leaves
    delivery.send_claimed(OutboxMessage, row_id, attempt, msg, now, run.mail, run.streak, **WIPED)


def _compose_reset(row: OutboxMessage) -> EmailMessage | None:
    """The reset email for the address typed, stored in the row; None when it names no active
    account with a password (an invited account sets its password from the invitation)."""
    user = accounts.find_by_email(row.requested_address or "")
    if user is None or not user.active or not user.has_password:
        return None
    msg = accounts.password_reset(user, detail=f"outbox {row.id}")
    _drop_waiting(PASSWORD_RESET, user.id)
    row.user_id, row.message, row.requested_address = user.id, bytes(msg), None
    return msg
