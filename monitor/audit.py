"""The append-only audit log (SPEC 6): logins, refusals, and every staff view or change of patient data.

Two ways in. A change is audited with record(), in the same transaction as the change, so the
view's one commit keeps both or neither. What a request shows or refuses, rather than changes,
is audited with after_response(): the events wait on `g` and one hook writes them once the
response is rendered, in a commit of their own. Committing earlier would expire every row the
page had loaded and reload them one query per row while rendering.

A page of one patient is audited with that patient as its target. A list of patients (a
dashboard page, a page of the report's table, an export) is audited as one event with the
ids of the patients it showed (`patient_ids`, stored in AuditEventPatient), so that the
viewer can answer "who saw patient X" from the log alone."""
from collections.abc import Iterable

from flask import Flask, g, has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditEvent, AuditEventPatient


def _clean(text: str | None, limit: int = 255) -> str | None:
    # Control characters would let a crafted value forge extra lines in a log viewer or CSV.
    if text is None:
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


def record(action: str, *, target_type: str | None = None, target_id: int | None = None,
           actor=None, detail: str | None = None, patient_ids: Iterable[int] = ()) -> AuditEvent:
    """Add an audit event to the current transaction; the caller's commit keeps both or neither.
    `patient_ids`: the patients a list showed, stored once each by id, not in the order shown."""
    if actor is None and has_request_context() and current_user and current_user.is_authenticated:
        actor = current_user
    ip = request.remote_addr if has_request_context() else None
    event = AuditEvent(
        actor_id=getattr(actor, "id", None),
        action=action,
        target_type=target_type,
        target_id=target_id,
        ip=_clean(ip, 64),
        detail=_clean(detail),
        # Written in the event's own flush, one multi-row INSERT after the event's.
        shown_patients=[AuditEventPatient(patient_id=int(i)) for i in sorted(set(patient_ids))],
    )
    db.session.add(event)
    return event


def after_response(action: str, *, target_type: str | None = None, target_id: int | None = None,
                   detail: str | None = None, patient_ids: Iterable[int] = ()) -> None:
    """Audit what this request shows (a patient's page, a list of patients, an export) or
    refuses, once the response is rendered. Not for changes: those use record() in their own
    transaction."""
    g.setdefault("audit_after_response", []).append(
        dict(action=action, target_type=target_type, target_id=target_id, detail=detail,
             patient_ids=list(patient_ids)))


def _write_after_response(response):
    events = g.pop("audit_after_response", None)
    # A failed request (500) showed nothing; its transaction was rolled back by the error page.
    if events and response.status_code < 500:
        for event in events:
            record(**event)
        # Its own transaction by design: the page is rendered, so nothing loaded is needed any more.
        db.session.commit()
    return response


def init_app(app: Flask) -> None:
    app.after_request(_write_after_response)
