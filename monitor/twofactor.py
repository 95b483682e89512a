"""The second factor: time-based one-time codes (TOTP, RFC 6238) and one-time recovery codes.

Required for providers and admins, optional for patients (OWASP ASVS V6). No Flask views here:
auth/views.py calls these. The secret is generated on the server and kept on the user row,
encrypted (crypto.encrypt: a copy of the database alone does not yield it); it counts only once
confirmed with a code (totp_enabled_at). Recovery codes are kept as keyed hashes (HMAC under a
key derived from SECRET_KEY, of their SHA-256) and each works once.
"""
import hashlib
import hmac
import logging
import re
import secrets
from datetime import timedelta

import pyotp
import segno
from sqlalchemy import delete, func, or_, select, update

from . import crypto
from .audit import record
from .extensions import db
from .models import AuditEvent, RecoveryCode, User
from .timeutil import utcnow

STEP_SECONDS = 30
RECOVERY_CODE_COUNT = 10
# No 0/o, 1/l/i: read from paper and typed on a phone.
RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
# A stolen password must not buy unlimited guesses at a 6-digit code.
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=15)
# The keyed hash of recovery codes: its own key, not the encryption key of the secrets.
RECOVERY_PURPOSE = "recovery-code"

log = logging.getLogger(__name__)


PENDING_SECRET = "totp_pending"


def pending_secret(store: dict) -> str:
    """The secret being enrolled, kept in the session (on the server: session_store.py) until
    it is confirmed: showing the enrolment page is a GET and stores nothing, and a reload shows
    the same QR code as the one just scanned."""
    secret = store.get(PENDING_SECRET)
    if not isinstance(secret, str) or not re.fullmatch(r"[A-Z2-7]{32}", secret):
        secret = store[PENDING_SECRET] = pyotp.random_base32()  # 160 bits
    return secret


def provisioning_uri(user: User, secret: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)


def qr_data_uri(uri: str) -> str:
    """An SVG QR code as a data: URI for an <img> (the CSP allows img-src data:; no script)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def display_secret(secret: str) -> str:
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def _step(now) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def store_secret(user: User, secret: str | None) -> None:
    """Keep the secret on the user row, encrypted. Caller commits."""
    user.totp_secret = None if secret is None else crypto.encrypt(secret)


def stored_secret(user: User) -> str | None:
    """The user's secret in the clear; None when there is none or it cannot be decrypted (then
    the factor refuses every code and an admin resets it: reset-two-factor)."""
    if not user.totp_secret:
        return None
    try:
        return crypto.decrypt(user.totp_secret)
    except crypto.CannotDecrypt:
        log.error("the second-factor secret of user %s cannot be decrypted: was SECRET_KEY changed "
                  "without the old one in SECRET_KEY_FALLBACKS?", user.id)
        return None


def verify_totp(user: User, code: str, now=None) -> bool:
    """A current code (one step of clock drift either way) not older than the last one accepted.
    The step is claimed with a conditional UPDATE, so two requests racing with the same code
    cannot both succeed."""
    code = re.sub(r"\s", "", code or "")
    if not re.fullmatch(r"\d{6}", code):
        return False
    secret = stored_secret(user)
    if secret is None:
        return False
    totp = pyotp.TOTP(secret)
    current = _step(now or utcnow())
    matched = None
    for step in (current - 1, current, current + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            matched = step
    if matched is None:
        return False
    claimed = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < matched))
        .values(totp_last_step=matched)
        .execution_options(synchronize_session=False)
    ).rowcount == 1
    if claimed:
        user.totp_last_step = matched
        db.session.flush()
    return claimed


def _normalise_recovery(code: str) -> str:
    return re.sub(r"[\s-]", "", (code or "").lower())


def _unkeyed_recovery_hash(code: str) -> str:
    # What was stored before the keyed hash (0010_secrets_at_rest): the migration keyed those
    # rows without knowing the codes, so the keyed hash is taken of this.
    return hashlib.sha256(_normalise_recovery(code).encode()).hexdigest()


def _hash_recovery(code: str) -> str:
    return crypto.keyed_hash(_unkeyed_recovery_hash(code), RECOVERY_PURPOSE)


def new_recovery_codes(user: User) -> list[str]:
    """Replace every recovery code of this account with ten new ones, returned once in the
    clear for the user to keep. Caller commits."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(10))  # ~50 bits
        codes.append(f"{raw[:5]}-{raw[5:]}")
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash_recovery(raw)))
    return codes


def use_recovery_code(user: User, code: str) -> bool:
    """Mark a matching unused recovery code used; false if none (or another request won)."""
    if len(_normalise_recovery(code)) != 10:
        return False
    return db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id,
               # Under SECRET_KEY or a fallback: codes made before a rotation keep working.
               RecoveryCode.code_hash.in_(crypto.keyed_hashes(_unkeyed_recovery_hash(code), RECOVERY_PURPOSE)),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount == 1


def remaining_recovery_codes(user: User) -> int:
    return db.session.scalar(select(func.count()).select_from(RecoveryCode).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)))


def check(user: User, code: str) -> str | None:
    """'totp' or 'recovery' for an accepted code, else None."""
    if user.totp_enabled_at is None:
        return None
    if verify_totp(user, code):
        return "totp"
    if use_recovery_code(user, code):
        return "recovery"
    return None


def confirm_enrolment(user: User, secret: str, code: str) -> list[str] | None:
    """Turn the factor on when the code matches the pending secret; the recovery codes, or None
    (and nothing about the secret is kept). Caller commits."""
    if user.totp_enabled_at is not None:
        return None
    store_secret(user, secret)
    user.totp_last_step = None
    if not verify_totp(user, code):
        user.totp_secret = None
        return None
    user.totp_enabled_at = utcnow()
    return new_recovery_codes(user)


def disable(user: User) -> None:
    """Caller commits."""
    user.totp_secret = None
    user.totp_enabled_at = None
    user.totp_last_step = None
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))


def too_many_failures(user: User) -> bool:
    """Counted from the audit log, on the server: a replayed cookie cannot reset it."""
    since = utcnow() - FAILURE_WINDOW
    failures = db.session.scalar(select(func.count()).select_from(AuditEvent).where(
        AuditEvent.action == "2fa.failed", AuditEvent.target_type == "user",
        AuditEvent.target_id == user.id, AuditEvent.at >= since))
    return failures >= MAX_FAILURES


def check_code(user: User, code: str) -> str | None:
    """Accept a TOTP or recovery code, as `check` does, unless too many have failed lately;
    audit the outcome. Caller commits."""
    kind = None if too_many_failures(user) else check(user, code)
    if kind is None:
        record("2fa.failed", target_type="user", target_id=user.id, actor=user)
    elif kind == "recovery":
        record("2fa.recovery_used", target_type="user", target_id=user.id, actor=user)
    return kind


def reencrypt_secrets() -> tuple[int, int, list[int]]:
    """Encrypt every stored secret under the current SECRET_KEY (after a rotation, while the old
    key is in SECRET_KEY_FALLBACKS): (how many were re-encrypted, how many already were current,
    the ids of users whose secret no configured key decrypts). When there are any of those,
    nothing is changed. Caller commits."""
    rows = db.session.execute(select(User.id, User.totp_secret).where(User.totp_secret.is_not(None))
                              .order_by(User.id)).all()
    stale = [(user_id, token) for user_id, token in rows if not crypto.is_current(token)]
    new, lost = {}, []
    for user_id, token in stale:
        try:
            new[user_id] = crypto.reencrypt(token)
        except crypto.CannotDecrypt:
            lost.append(user_id)
    if lost:
        return 0, len(rows) - len(stale), lost
    for (user_id, old), token in zip(stale, new.values()):
        # Conditional: a secret changed meanwhile (a new enrolment) is already current.
        db.session.execute(update(User).where(User.id == user_id, User.totp_secret == old)
                           .values(totp_secret=token).execution_options(synchronize_session=False))
    return len(new), len(rows) - len(stale), []
