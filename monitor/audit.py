"""The append-only audit log (SPEC 6): logins, refusals, and every staff view or change of patient data."""
from flask import has_request_context, request
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
