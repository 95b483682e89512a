"""The append-only audit log (SPEC 6): logins, refusals, and every staff view or change of patient data.

Two ways in. A change is audited with record(), in the same transaction as the change, so the
view's one commit keeps both or neither. What a request shows or refuses, rather than changes,
is audited with after_response(): the events wait on `g` and one hook writes them once the
response is rendered, in a commit of their own. Committing earlier would expire every row the
page had loaded and reload them one query per row while rendering."""
from flask import Flask, g, has_request_context, request
from flask_login import current_user

from .extensions import db
from .models import AuditEvent


def _clean(text: str | None, limit: int = 255) -> str | None:
    # Control characters would let a crafted value forge extra lines in a log viewer or CSV.
    if text is None:
        return None
    return "".join(ch if ch.isprintable() else "?" for ch in text)[:limit]


def record(action: str, *, target_type: str | None = None, target_id: int | None = None,
           actor=None, detail: str | None = None) -> AuditEvent:
    """Add an audit event to the current transaction; the caller's commit keeps both or neither."""
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
    )
    db.session.add(event)
    return event


def after_response(action: str, *, target_type: str | None = None, target_id: int | None = None,
                   detail: str | None = None) -> None:
    """Audit what this request shows (a patient's page, an export) or refuses, once the
    response is rendered. Not for changes: those use record() in their own transaction."""
    g.setdefault("audit_after_response", []).append(
        dict(action=action, target_type=target_type, target_id=target_id, detail=detail))


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
