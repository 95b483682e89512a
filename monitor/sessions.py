"""Signed-in sessions kept on the server (OWASP ASVS V7, HIPAA automatic logoff).

Signing in puts a random token in Flask's session as session["sid"]; the user_sessions table
keeps only its SHA-256. Every request of a signed-in user is checked against that row, so
logout, a password change or a timeout ends the session for good, not only in the browser that
asked. Flask's session itself is kept on the server too (session_store.py): the cookie holds a
token of its own and nothing else, and signing in or out changes that token.

Limits: staff 15 minutes idle, 12 hours in all, never "kept signed in". Patients 30 minutes
idle and 12 hours in all, or 30 days both when they ask to stay signed in on their own phone.
"""
import hashlib
import secrets
from datetime import timedelta

from flask import Flask, current_app, flash, g, has_request_context, redirect, request, session, url_for
from flask_login import current_user, login_user, logout_user
from sqlalchemy import bindparam, select, update

from .extensions import db, login_manager
from .models import User, UserSession
from .session_store import TOUCH_EVERY, ServerSessionInterface
from .shell import ENDPOINTS as SHELL_ENDPOINTS
from .timeutil import utcnow

SID = "sid"
SIGNED_OUT_MESSAGE = "You were signed out after a period of inactivity."

# last_seen_at is written at most TOUCH_EVERY (a minute): idle limits are then up to a minute
# early (the safe side), and a page with many requests costs one write, not one per request.

# Pages that serve a signed-out visitor: an ended session simply continues there signed out.
SIGN_IN_ENDPOINTS = {"auth.login", "auth.verify", "auth.request_reset", "auth.reset_password",
                     "auth.accept_invitation", "auth.lost_second_factor", "auth.two_factor_off"}

# What a staff member without a confirmed authenticator may still reach.
ENROLMENT_ENDPOINTS = {"auth.enrol_two_factor", "auth.logout", "static"}


def init_app(app: Flask) -> None:
    app.session_interface = ServerSessionInterface(browser_lifetime=browser_session_lifetime)
    login_manager.user_loader(load_user)
    app.before_request(enforce)
    app.context_processor(lambda: {"signed_out_in_seconds": seconds_until_signed_out()})


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# Built once: building it costs about as much as running it. Whoever the row belongs to
# comes back with the user: is_live() refuses another account's.
_USER_AND_ROW = (select(User, UserSession).outerjoin(UserSession, UserSession.id == bindparam("row_id"))
                 .where(User.id == bindparam("user_id")))


def load_user(key: str) -> User | None:
    """Flask-Login's user loader. The id carries the account's session epoch: a password change
    ends every other session. This browser's server-side session row comes in the same query,
    so that current() (and enforce(), on every signed-in request) finds it in the database
    session instead of asking again: one query per request, not two."""
    user_id, _, epoch = key.partition(":")
    if not user_id.isdigit() or not epoch.isdigit():
        return None
    token = session.get(SID)
    if isinstance(token, str) and token:
        found = db.session.execute(_USER_AND_ROW, {"user_id": int(user_id), "row_id": _hash(token)}).first()
        user = found[0] if found else None
        # Held for the request: the database session keeps loaded rows only while they are referenced.
        g.sign_in_row = found[1] if found else None
    else:
        user = db.session.get(User, int(user_id))
    if user is None or user.session_epoch != int(epoch) or not user.active:
        return None
    return user


def _limits(user: User, remember: bool) -> tuple[timedelta, timedelta]:
    """(idle, absolute) for this account."""
    c = current_app.config
    if user.is_patient and remember:
        days = timedelta(days=c["PATIENT_REMEMBER_DAYS"])
        return days, days
    if user.is_patient:
        return timedelta(minutes=c["PATIENT_IDLE_MINUTES"]), timedelta(hours=c["PATIENT_ABSOLUTE_HOURS"])
    return timedelta(minutes=c["STAFF_IDLE_MINUTES"]), timedelta(hours=c["STAFF_ABSOLUTE_HOURS"])


def browser_session_lifetime(app: Flask) -> timedelta:
    """How long the server keeps a session that ends with the browser after its last change
    (signing in is one): as long as the longest sign-in it can carry (12 hours), and no longer
    for a visitor who never signs in (the sign-in page's CSRF token). A patient kept signed in
    has a permanent session, kept PERMANENT_SESSION_LIFETIME after its last use, like its cookie."""
    c = app.config
    return timedelta(hours=max(c["STAFF_ABSOLUTE_HOURS"], c["PATIENT_ABSOLUTE_HOURS"]))


def sign_in(user: User, *, remember: bool, second_factor: bool) -> UserSession:
    """Sign this browser in. Caller commits."""
    # A new session at sign-in: nothing planted before it survives, and the cookie's token is a
    # new one (no fixation): session.clear() retires the old token (session_store.py).
    session.clear()
    login_user(user)
    return begin(user, remember=remember, second_factor=second_factor)


def begin(user: User, *, remember: bool = False, second_factor: bool = False) -> UserSession:
    """Start a server-side session for a user just signed in (the caller has already cleared
    the old session data and called login_user). Staff are never kept signed in. Caller commits."""
    remember = bool(remember) and user.is_patient
    now = utcnow()
    token = secrets.token_urlsafe(32)
    _, absolute = _limits(user, remember)
    row = UserSession(id=_hash(token), user_id=user.id, created_at=now, last_seen_at=now,
                      expires_at=now + absolute, remember=remember,
                      second_factor_at=now if second_factor else None,
                      ip=(request.remote_addr or "")[:64] or None)
    db.session.add(row)
    session.renew()  # a new cookie token, whoever called (sign_in has cleared it already)
    session[SID] = token
    # A kept session survives closing the browser; any other ends with it.
    session.permanent = remember
    return row


def current() -> UserSession | None:
    token = session.get(SID)
    if not isinstance(token, str) or not token:
        return None
    return db.session.get(UserSession, _hash(token))


def end(row: UserSession | None) -> None:
    """Caller commits."""
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()


def end_all(user: User, *, keep: UserSession | None = None) -> None:
    """End every open session of this account except `keep`. Caller commits."""
    stmt = update(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    if keep is not None:
        stmt = stmt.where(UserSession.id != keep.id)
    db.session.execute(stmt.values(ended_at=utcnow()), execution_options={"synchronize_session": False})


def live_for(user: User, now=None) -> list[UserSession]:
    """This account's sessions that would still let someone in, most recently used first."""
    now = now or utcnow()
    rows = db.session.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.ended_at.is_(None), UserSession.expires_at > now,
    ).order_by(UserSession.last_seen_at.desc())).all()
    return [row for row in rows if is_live(row, user, now)]


def is_live(row: UserSession, user: User, now=None) -> bool:
    now = now or utcnow()
    if row.ended_at is not None or row.user_id != user.id or now >= row.expires_at:
        return False
    idle, _ = _limits(user, row.remember)
    if now - row.last_seen_at >= idle:
        return False
    # An account that has a second factor is only ever signed in with it (a session opened
    # before the factor was turned on, on another device, ends here).
    if user.totp_enabled_at is not None and row.second_factor_at is None:
        return False
    return True


def sign_out() -> None:
    """End this browser's session on the server and in the cookie. Caller commits."""
    end(current())
    logout_user()
    session.clear()


# Requests that neither read nor keep a signed-in session: static files, the health check
# (a probe must not keep anyone signed in, nor cost more than its one query; health/__init__.py),
# and the manifest, service worker and offline page, which browsers fetch in the background.
UNTRACKED_ENDPOINTS = {"static", "health.healthz", *SHELL_ENDPOINTS}


def enforce():
    """before_request: a signed-in user must hold a live server-side session."""
    if request.endpoint in UNTRACKED_ENDPOINTS or not current_user.is_authenticated:
        return None
    user = current_user._get_current_object()
    row = current()
    now = utcnow()
    if row is None or not is_live(row, user, now):
        sign_out()
        # Its own transaction: the session has ended whatever this request goes on to do.
        db.session.commit()
        if request.endpoint in SIGN_IN_ENDPOINTS:
            return None  # carry on signed out: a sign-in form posted from a stale tab still works
        flash(SIGNED_OUT_MESSAGE, "info")
        target = request.path if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        # The touch is committed on its own, so a request that fails later does not
        # make a used session look idle.
        db.session.commit()
    if needs_enrolment(user) and request.endpoint not in ENROLMENT_ENDPOINTS:
        return redirect(url_for("auth.enrol_two_factor"))
    return None


def seconds_left(row: UserSession, user: User, now=None) -> int:
    """How long this session has before the idle or the absolute limit ends it, whichever
    comes first."""
    now = now or utcnow()
    idle, _ = _limits(user, row.remember)
    left = min(row.last_seen_at + idle, row.expires_at) - now
    return max(0, int(left.total_seconds()))


def seconds_until_signed_out() -> int | None:
    """For base.html's idle warning (static/js/idle.js): how long this signed-in page may sit
    unused before the server ends its session. The script warns IDLE_WARNING_SECONDS ahead and
    then signs out, so a screen left open stops showing patient data (HIPAA automatic logoff);
    the server's limit stays the control, with or without the script."""
    # Emails are rendered outside any request (the nudge runner): no page, no limit.
    if not has_request_context() or not current_user or not current_user.is_authenticated:
        return None
    row = current()
    if row is None:
        return None
    return seconds_left(row, current_user._get_current_object())


def stay_signed_in() -> int:
    """The person answered the idle warning: count this as use now (enforce() has already
    checked the session is live). Returns the seconds left. Caller commits."""
    row = current()
    row.last_seen_at = utcnow()
    return seconds_left(row, current_user._get_current_object(), row.last_seen_at)


def needs_enrolment(user: User) -> bool:
    return (user.is_staff and user.totp_enabled_at is None
            and current_app.config["TWO_FACTOR_REQUIRED_FOR_STAFF"])
