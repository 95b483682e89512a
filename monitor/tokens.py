"""Single-use, expiring account links: invitations and password resets.

The raw token travels only in the emailed link; the database keeps its SHA-256, so a leaked
backup cannot be used to take over accounts. Redeeming is a conditional UPDATE, so two
clicks racing each other cannot both succeed."""
import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import select, update

from .extensions import db
from .models import AccountToken, User
from .timeutil import utcnow

INVITATION = "invitation"
PASSWORD_RESET = "reset"


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def issue(user: User, purpose: str, ttl: timedelta) -> str:
    """Create a token (caller commits) and return the raw value for the link."""
    raw = secrets.token_urlsafe(32)
    db.session.add(AccountToken(
        user=user, purpose=purpose, token_hash=_digest(raw), expires_at=utcnow() + ttl,
    ))
    return raw


def find_valid(raw: str, purpose: str) -> AccountToken | None:
    if not raw or len(raw) > 100:
        return None
    token = db.session.scalar(
        select(AccountToken).where(AccountToken.token_hash == _digest(raw), AccountToken.purpose == purpose)
    )
    if token is None or token.used_at is not None or token.expires_at <= utcnow():
        return None
    return token


def redeem(token: AccountToken) -> bool:
    """Mark the token used; False when another request used it first or it has expired."""
    now = utcnow()
    result = db.session.execute(
        update(AccountToken)
        .where(AccountToken.id == token.id, AccountToken.used_at.is_(None), AccountToken.expires_at > now)
        .values(used_at=now)
    )
    return result.rowcount == 1


def revoke_unused(user: User, purpose: str) -> None:
    """A newer link replaces older ones, so only the latest email works."""
    db.session.execute(
        update(AccountToken)
        .where(AccountToken.user_id == user.id, AccountToken.purpose == purpose, AccountToken.used_at.is_(None))
        .values(used_at=utcnow())
    )
