"""Account services shared by the web views and the command line. Nothing here commits:
the view or command that calls it does, once."""
from datetime import timedelta
from email.message import EmailMessage

from flask import current_app, url_for
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from . import mail, tokens
from .audit import record
from .extensions import db
from .models import Role, User
from .passwords import hash_password

ROLES = [r.value for r in Role]
# Said by every form that creates an account (email addresses are unique, case aside).
DUPLICATE_EMAIL = "That email address already has an account."


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def set_password(user: User, password: str) -> None:
    """Caller commits."""
    user.password_hash = hash_password(password)
    # Ends every other signed-in session of this account (see the user loader).
    user.session_epoch = (user.session_epoch or 0) + 1
    # A reset or invitation link mailed before the change no longer works after it.
    tokens.revoke_unused(user)


def absolute_url(endpoint: str, **values) -> str:
    """Links in emails are built on BASE_URL, never on the request's Host header (which an
    attacker controls), and work the same from a web request or the command line."""
    with current_app.test_request_context("/", base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def invitation(user: User) -> EmailMessage:
    """A single-use link to set a password, as an email; older unused invitations stop
    working. Audited. The caller queues it (outbox.py) and commits: the link and its email are
    stored together, and sent only once both are."""
    tokens.revoke_unused(user, tokens.INVITATION)
    hours = current_app.config["INVITATION_TTL_HOURS"]
    raw = tokens.issue(user, tokens.INVITATION, timedelta(hours=hours))
    record("account.invited", target_type="user", target_id=user.id)
    return mail.render_message("invitation", user.email, first_name=user.first_name,
                               link=absolute_url("auth.accept_invitation", token=raw), hours=hours)


def password_reset(user: User, *, detail: str | None = None) -> EmailMessage:
    """A single-use link to choose a new password, as an email; older unused ones stop
    working. Audited (`detail`: which request asked). The outbox's runner calls this when it
    looks up the address a reset was asked for, and stores the email with the link."""
    tokens.revoke_unused(user, tokens.PASSWORD_RESET)
    minutes = current_app.config["PASSWORD_RESET_TTL_MINUTES"]
    raw = tokens.issue(user, tokens.PASSWORD_RESET, timedelta(minutes=minutes))
    record("account.reset_issued", target_type="user", target_id=user.id, actor=user, detail=detail)
    return mail.render_message("password_reset", user.email, first_name=user.first_name,
                               link=absolute_url("auth.reset_password", token=raw), minutes=minutes)


def two_factor_off(user: User) -> EmailMessage:
    """A single-use link that turns a patient's second factor off, for one who has lost both
    their phone and their recovery codes. It is asked for only after the password step of
    signing in, and it goes to the account's own address: a password and the mailbox, never a
    session alone. Older unused ones stop working. Audited. The caller queues it and commits."""
    tokens.revoke_unused(user, tokens.TWO_FACTOR_OFF)
    minutes = current_app.config["PASSWORD_RESET_TTL_MINUTES"]
    raw = tokens.issue(user, tokens.TWO_FACTOR_OFF, timedelta(minutes=minutes))
    record("2fa.reset_requested", target_type="user", target_id=user.id, actor=user)
    return mail.render_message("two_factor_off", user.email, first_name=user.first_name,
                               link=absolute_url("auth.two_factor_off", token=raw), minutes=minutes)


# --- Creating accounts: one path for the enrolment form, the staff form and the command line.

class DuplicateEmail(Exception):
    """Another account has this email address (perhaps created a moment ago by another request)."""


def add_account(user: User, *, action: str, actor: User | None, detail: str, target_type: str = "user",
                providers: list[User] = ()) -> User:
    """Insert a new account and audit it as `action`. Caller commits.

    The insert runs in a savepoint, so a concurrent registration of the same address (the
    unique index refuses it) raises DuplicateEmail and leaves the transaction usable."""
    try:
        with db.session.begin_nested():
            db.session.add(user)
            user.providers = list(providers)  # a patient's panel; once the account is in the session
    except IntegrityError:
        raise DuplicateEmail(DUPLICATE_EMAIL) from None
    record(action, target_type=target_type, target_id=user.id, actor=actor, detail=detail)
    return user


def invite_staff(email: str, first_name: str, last_name: str, role: str, *, actor: User) -> User:
    """A provider or admin account without a password (they set it from the invitation)."""
    if role not in (Role.PROVIDER.value, Role.ADMIN.value):
        raise ValueError(f"not a staff role: {role}")
    user = User(email=normalise_email(email), role=role, first_name=first_name.strip(),
                last_name=last_name.strip(), password_hash=None)
    return add_account(user, action="staff.created", actor=actor, detail=role)


def enrol_patient(email: str, first_name: str, last_name: str, timezone: str,
                  providers: list[User], *, actor: User) -> User:
    """A patient account without a password, on these providers' panels."""
    patient = User(email=normalise_email(email), role=Role.PATIENT.value, first_name=first_name.strip(),
                   last_name=last_name.strip(), timezone=timezone, password_hash=None)
    return add_account(patient, action="patient.enrolled", actor=actor, target_type="patient", providers=providers,
                       detail="providers: " + ", ".join(str(p.id) for p in providers))
