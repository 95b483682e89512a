"""Account services shared by the web views and the command line."""
import logging
from datetime import timedelta

from flask import current_app, url_for
from sqlalchemy import func, select

from . import mail, tokens
from .audit import record
from .extensions import db
from .models import Role, User
from .passwords import hash_password

log = logging.getLogger(__name__)


ROLES = [r.value for r in Role]
# Said by every form that creates an account (email addresses are unique, case aside).
DUPLICATE_EMAIL = "That email address already has an account."


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()


def find_by_email(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == normalise_email(email)))


def set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    # Ends every other signed-in session of this account (see the user loader).
    user.session_epoch = (user.session_epoch or 0) + 1


def absolute_url(endpoint: str, **values) -> str:
    """Links in emails are built on BASE_URL, never on the request's Host header (which an
    attacker controls), and work the same from a web request or the command line."""
    with current_app.test_request_context("/", base_url=current_app.config["BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def send_invitation(user: User) -> None:
    """Email a single-use link to set a password. Older unused invitations stop working."""
    tokens.revoke_unused(user, tokens.INVITATION)
    raw = tokens.issue(user, tokens.INVITATION, timedelta(hours=current_app.config["INVITATION_TTL_HOURS"]))
    record("account.invited", target_type="user", target_id=user.id)
    db.session.commit()
    mail.send_template(
        "invitation", user.email,
        first_name=user.first_name, link=absolute_url("auth.accept_invitation", token=raw),
        hours=current_app.config["INVITATION_TTL_HOURS"],
    )


def try_invitation(user: User) -> bool:
    """send_invitation, reporting whether it went: the account exists either way, and staff
    can resend the link when the mail server is back."""
    try:
        send_invitation(user)
    except OSError:  # SMTP refused or unreachable
        log.exception("invitation email for user %s not sent", user.id)
        return False
    return True


def send_password_reset(user: User) -> None:
    tokens.revoke_unused(user, tokens.PASSWORD_RESET)
    minutes = current_app.config["PASSWORD_RESET_TTL_MINUTES"]
    raw = tokens.issue(user, tokens.PASSWORD_RESET, timedelta(minutes=minutes))
    record("account.reset_requested", target_type="user", target_id=user.id, actor=user)
    db.session.commit()
    mail.send_template(
        "password_reset", user.email,
        first_name=user.first_name, link=absolute_url("auth.reset_password", token=raw), minutes=minutes,
    )


def invite_staff(email: str, first_name: str, last_name: str, role: str, *, actor: User) -> User:
    """Create a provider or admin account without a password. Caller commits, then invites."""
    if role not in (Role.PROVIDER.value, Role.ADMIN.value):
        raise ValueError(f"not a staff role: {role}")
    user = User(email=normalise_email(email), role=role, first_name=first_name.strip(),
                last_name=last_name.strip(), password_hash=None)
    with db.session.begin_nested():
        db.session.add(user)
    record("staff.created", target_type="user", target_id=user.id, actor=actor, detail=role)
    return user


def enrol_patient(email: str, first_name: str, last_name: str, timezone: str,
                  providers: list[User], *, actor: User) -> User:
    """Create a patient account without a password on these providers' panels. Caller commits."""
    patient = User(email=normalise_email(email), role=Role.PATIENT.value, first_name=first_name.strip(),
                   last_name=last_name.strip(), timezone=timezone, password_hash=None)
    with db.session.begin_nested():
        db.session.add(patient)
        patient.providers = providers
    record("patient.enrolled", target_type="patient", target_id=patient.id, actor=actor,
           detail="providers: " + ", ".join(str(p.id) for p in providers))
    return patient
