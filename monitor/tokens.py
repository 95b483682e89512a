"""Single-use, expiring account links: invitations and password resets; and the encrypted,
stateless token of a nudge email's unsubscribe link.

The raw token travels only in the emailed link; the database keeps its SHA-256, so a leaked
backup cannot be used to take over accounts. Redeeming is a conditional UPDATE, so two
clicks racing each other cannot both succeed."""
import hashlib
import re
import secrets
from datetime import timedelta

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select, update

from . import crypto
from .extensions import db
from .models import AccountToken, User
from .timeutil import utcnow

INVITATION = "invitation"
PASSWORD_RESET = "reset"
# A patient who lost both their phone and their recovery codes turns the second factor off.
TWO_FACTOR_OFF = "2fa_off"


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


def revoke_unused(user: User, purpose: str | None = None) -> None:
    """A newer link replaces older ones, so only the latest email works. Without a purpose,
    every outstanding link of the account dies: its password changed, or it was deactivated,
    and a link mailed before that must not set a password after it. Caller commits."""
    stmt = update(AccountToken).where(AccountToken.user_id == user.id, AccountToken.used_at.is_(None))
    if purpose is not None:
        stmt = stmt.where(AccountToken.purpose == purpose)
    db.session.execute(stmt.values(used_at=utcnow()))


# --- The unsubscribe link: the patient's id, encrypted for this one purpose (crypto.py), so
# the link neither shows nor can be made for anyone's id, and each email's link differs.

UNSUBSCRIBE_PURPOSE = "nudge-unsubscribe"
# Links in emails sent before that carried the id in clear, signed with this salt (itsdangerous):
# still honoured, so that an unsubscribe link already in an inbox keeps working (a link that
# stops working breeds complaints, and the id in it is already in the inbox whatever we do).
# They verify under the current SECRET_KEY only, so the next key rotation ends them; remove
# _legacy_unsubscribe_user_id in the first release at least 60 days after this one is deployed.
LEGACY_UNSUBSCRIBE_SALT = "nudge-unsubscribe"


def unsubscribe_token(user_id: int) -> str:
    return crypto.encrypt(str(user_id), UNSUBSCRIBE_PURPOSE)


def unsubscribe_user_id(token: str) -> int | None:
    """The user id a genuine unsubscribe token carries; None for anything else."""
    if len(token) > 200:
        return None
    if "." in token:  # never in a Fernet token (URL-safe base64); always in an itsdangerous one
        return _legacy_unsubscribe_user_id(token)
    try:
        text = crypto.decrypt(token, UNSUBSCRIBE_PURPOSE)
    except crypto.CannotDecrypt:
        return None
    return int(text) if re.fullmatch(r"[1-9][0-9]{0,17}", text) else None


def _legacy_unsubscribe_user_id(token: str) -> int | None:
    try:
        user_id = URLSafeSerializer(current_app.config["SECRET_KEY"], salt=LEGACY_UNSUBSCRIBE_SALT).loads(token)
    except BadSignature:
        return None
    return user_id if isinstance(user_id, int) and not isinstance(user_id, bool) else None
