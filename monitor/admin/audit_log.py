"""Reading the audit log (SPEC 6): filters from a query string, one page of events, a CSV file.

Filters carry no health information and no email address (an address in a URL ends up in
server logs and browser history): the actor and the patient are chosen by id. A filter that
cannot be read is reported and ignored, never an error page.

"Who saw patient X" is the patient filter: the events whose target is the patient (their
record, their account) or one of their treatment sessions, and the events of the lists and
exports that showed them (AuditEventPatient)."""
from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import CompoundSelect, Select, func, or_, select, union
from sqlalchemy.orm import aliased

from ..exports import safe_text
from ..extensions import db
from ..models import AuditEvent, AuditEventPatient, Treatment, User

PER_PAGE = 50
CSV_COLUMNS = ["at_utc", "actor_id", "actor_email", "action", "target_type", "target_id", "ip", "detail",
               "patient_ids"]

_ACTION = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_TARGET_TYPE = re.compile(r"[A-Za-z0-9_.\-]{1,32}")
_MAX_ID = 2**31 - 1  # the columns are 32-bit integers; larger numbers match nothing


@dataclass
class AuditFilters:
    action: str | None = None
    actor_id: int | None = None
    target_type: str | None = None
    target_id: int | None = None
    patient_id: int | None = None
    date_from: date | None = None
    date_to: date | None = None
    errors: list[str] = field(default_factory=list)

    def query_args(self) -> dict[str, str]:
        """The filters that apply, as query parameters (for links that keep them)."""
        args = {"action": self.action, "actor": self.actor_id, "target_type": self.target_type,
                "target_id": self.target_id, "patient": self.patient_id, "from": self.date_from, "to": self.date_to}
        return {k: v.isoformat() if isinstance(v, date) else str(v) for k, v in args.items() if v is not None}

    def describe(self) -> str:
        """For the audit detail of a view or an export: which filters, never anyone's data."""
        return ", ".join(f"{k}={v}" for k, v in self.query_args().items()) or "no filters"


def _id(args: Mapping[str, str], name: str, label: str, errors: list[str]) -> int | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    if text.isascii() and text.isdigit() and len(text) <= 10 and 0 < int(text) <= _MAX_ID:
        return int(text)
    errors.append(f"The {label} must be a whole number such as 12; that filter is ignored.")
    return None


def _day(args: Mapping[str, str], name: str, label: str, errors: list[str]) -> date | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    try:
        if len(text) != 10:
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        errors.append(f"The {label} date must be a date such as 2026-11-26 (UTC); that filter is ignored.")
        return None


def _word(args: Mapping[str, str], name: str, pattern: re.Pattern, label: str, errors: list[str]) -> str | None:
    text = (args.get(name) or "").strip()
    if not text:
        return None
    if pattern.fullmatch(text):
        return text
    errors.append(f"The {label} may hold only letters, digits, dots, dashes and underscores; that filter is ignored.")
    return None


def parse_filters(args: Mapping[str, str]) -> AuditFilters:
    errors: list[str] = []
    filters = AuditFilters(
        action=_word(args, "action", _ACTION, "action", errors),
        actor_id=_id(args, "actor", "actor id", errors),
        target_type=_word(args, "target_type", _TARGET_TYPE, "target type", errors),
        target_id=_id(args, "target_id", "target id", errors),
        patient_id=_id(args, "patient", "patient id", errors),
        date_from=_day(args, "from", "“from”", errors),
        date_to=_day(args, "to", "“to”", errors),
        errors=errors,
    )
    if filters.date_from and filters.date_to and filters.date_from > filters.date_to:
        errors.append("The “from” date is after the “to” date; both date filters are ignored.")
        filters.date_from = filters.date_to = None
    return filters


def parse_page(text: str | None) -> int:
    """A page number from ?page=; anything unreadable is page 1."""
    text = (text or "").strip()
    if text.isascii() and text.isdigit() and len(text) <= 6 and int(text) >= 1:
        return int(text)
    return 1


def _midnight_utc(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=timezone.utc)


def _about_patient(patient_id: int) -> CompoundSelect:
    """The ids of the events about one patient. A union of three index lookups (audit targets,
    the treatments' patients, the listed patients) that the outer query matches by id, rather
    than an OR that would read every event to test each one."""
    event = aliased(AuditEvent)  # not correlated with the outer query's audit_events
    return union(
        select(event.id).where(event.target_id == patient_id, event.target_type.in_(("patient", "user"))),
        select(event.id).where(event.target_type == "treatment", event.target_id.in_(
            select(Treatment.id).where(Treatment.patient_id == patient_id))),
        select(AuditEventPatient.event_id).where(AuditEventPatient.patient_id == patient_id),
    )


def _filtered(query: Select, f: AuditFilters) -> Select:
    if f.action:
        # "login" matches login and login.failed; "export.audit" only itself.
        query = query.where(or_(AuditEvent.action == f.action,
                                AuditEvent.action.startswith(f.action + ".", autoescape=True)))
    if f.actor_id is not None:
        query = query.where(AuditEvent.actor_id == f.actor_id)
    if f.target_type:
        query = query.where(AuditEvent.target_type == f.target_type)
    if f.target_id is not None:
        query = query.where(AuditEvent.target_id == f.target_id)
    if f.patient_id is not None:
        query = query.where(AuditEvent.id.in_(_about_patient(f.patient_id)))
    if f.date_from:
        query = query.where(AuditEvent.at >= _midnight_utc(f.date_from))
    if f.date_to:  # the whole of the "to" day
        query = query.where(AuditEvent.at < _midnight_utc(f.date_to + timedelta(days=1)))
    return query


def _events(f: AuditFilters) -> Select:
    # Newest first; events of the same instant in the order they were written, newest first.
    return (_filtered(select(AuditEvent, User.email).outerjoin(User, User.id == AuditEvent.actor_id), f)
            .order_by(AuditEvent.at.desc(), AuditEvent.id.desc()))


def _shown(event_ids) -> dict[int, list[int]]:
    """The patients each of these events showed, by event id (ids ascending); one query.
    `event_ids`: a list, or a query of them."""
    shown: dict[int, list[int]] = {}
    # On the session's connection, without the ORM's row loading: an export of the clinic lists
    # every patient, so a year's CSV can hold millions of these pairs.
    for event_id, patient_id in db.session.connection().execute(
            select(AuditEventPatient.event_id, AuditEventPatient.patient_id)
            .where(AuditEventPatient.event_id.in_(event_ids))
            .order_by(AuditEventPatient.event_id, AuditEventPatient.patient_id)):
        shown.setdefault(event_id, []).append(patient_id)
    return shown


@dataclass
class AuditPage:
    rows: list[tuple[AuditEvent, str | None]]
    page: int
    pages: int
    total: int
    shown: dict[int, list[int]]  # event id: the patients it showed


def page_of(f: AuditFilters, page: int) -> AuditPage:
    total = db.session.scalar(_filtered(select(func.count()).select_from(AuditEvent), f))
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        page = 1
    rows = [(e, email) for e, email in
            db.session.execute(_events(f).limit(PER_PAGE).offset((page - 1) * PER_PAGE)).all()]
    return AuditPage(rows=rows, page=page, pages=pages, total=total,
                     shown=_shown([e.id for e, _ in rows]) if rows else {})


def all_events(f: AuditFilters) -> tuple[list[tuple[AuditEvent, str | None]], dict[int, list[int]]]:
    """Every matching event, and the patients each showed (matched by a subquery, not a list
    of ids as long as the log)."""
    rows = [(e, email) for e, email in db.session.execute(_events(f)).all()]
    return rows, (_shown(_filtered(select(AuditEvent.id), f)) if rows else {})


def utc_text(at: datetime) -> str:
    """ISO 8601 in UTC with a Z: 2026-11-26T15:00:00Z."""
    at = at.astimezone(timezone.utc)
    return at.strftime("%Y-%m-%dT%H:%M:%S") + (f".{at.microsecond:06d}" if at.microsecond else "") + "Z"


def _whole(value: int | None) -> str:
    return "" if value is None else str(value)


def audit_csv(rows: Iterable[tuple[AuditEvent, str | None]], shown: Mapping[int, list[int]]) -> str:
    """Every text cell through exports.safe_text, so no cell is run as a spreadsheet formula.
    patient_ids: the patients a list showed, separated by spaces."""
    out = io.StringIO()
    writer = csv.writer(out)  # RFC 4180: CRLF line ends, quotes where needed
    writer.writerow(CSV_COLUMNS)
    for e, email in rows:
        writer.writerow([utc_text(e.at), _whole(e.actor_id), safe_text(email), safe_text(e.action),
                         safe_text(e.target_type), _whole(e.target_id), safe_text(e.ip), safe_text(e.detail),
                         " ".join(str(i) for i in shown.get(e.id, ()))])
    return out.getvalue()
