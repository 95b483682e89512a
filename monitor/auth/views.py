"""Sign in and out, the second factor at sign-in, invitations and password resets. No open
sign-up: accounts are enrolled. The signed-in security page lives in security_views.py;
sessions themselves are kept by sessions.py, codes by twofactor.py."""
from urllib.parse import urlsplit

from flask import flash, jsonify, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required

from .. import outbox, ratelimit, sessions, tokens, twofactor
from ..accounts import find_by_email, set_password
from ..audit import record
from ..extensions import db
from ..models import User
from ..passwords import hash_password, needs_rehash, verify_password
from ..timeutil import utcnow
from ..security import offers_resubmit
from . import bp
from .forms import GENERIC_CODE_ERROR, GENERIC_LOGIN_ERROR, CodeForm, LoginForm, RequestResetForm, SetPasswordForm

# The password step is remembered this long while the second factor is asked for. The user id
# sits under its own key: ratelimit.py counts /login/verify attempts per pending account.
PENDING_USER = "2fa_user_id"
PENDING_KEYS = (PENDING_USER, "2fa_epoch", "2fa_at", "2fa_remember", "2fa_next")
PENDING_SECONDS = 5 * 60


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: refuses //host, scheme:, backslash tricks, and any control
    character (a CR/LF would split the Location header)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
@offers_resubmit(LoginForm)
def login():
    if current_user.is_authenticated:
        return redirect(url_for("index"))
    form = LoginForm()
    if form.validate_on_submit():
        user = find_by_email(form.email.data)
        ok = verify_password(user.password_hash if user else None, form.password.data)
        if user is None or not ok or not user.active:
            record("login.failed", target_type="user", target_id=user.id if user else None,
                   detail=None if user else "unknown account")
            db.session.commit()
            ratelimit.failed()
            flash(GENERIC_LOGIN_ERROR, "error")
            return render_template("auth/login.html", form=form), 200
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(form.password.data)
        next_url = safe_next(request.args.get("next"))
        if user.totp_enabled_at is not None:
            # Half signed in: nothing is reachable until the second factor is given.
            _await_second_factor(user, remember=form.remember.data, next_url=next_url)
            db.session.commit()
            return redirect(url_for("auth.verify"))
        sessions.sign_in(user, remember=form.remember.data, second_factor=False)
        record("login", target_type="user", target_id=user.id, actor=user)
        db.session.commit()
        ratelimit.remember_device(user)
        if sessions.needs_enrolment(user):
            return redirect(url_for("auth.enrol_two_factor"))
        return redirect(next_url or url_for("index"))
    return render_template("auth/login.html", form=form)


def _await_second_factor(user, *, remember: bool, next_url: str | None) -> None:
    session.clear()
    session.update({PENDING_USER: user.id, "2fa_epoch": user.session_epoch, "2fa_at": utcnow().timestamp(),
                    "2fa_remember": bool(remember), "2fa_next": next_url})


def _pending():
    """The user whose password step passed less than five minutes ago, else None."""
    try:
        age = utcnow().timestamp() - float(session["2fa_at"])
        user = db.session.get(User, int(session[PENDING_USER]))
    except (KeyError, TypeError, ValueError):
        return None
    if not 0 <= age <= PENDING_SECONDS or user is None or not user.active:
        return None
    if user.session_epoch != session.get("2fa_epoch") or user.totp_enabled_at is None:
        return None
    return user


@bp.route("/login/verify", methods=["GET", "POST"])
def verify():
    """The second step of signing in, for an account with a second factor."""
    if current_user.is_authenticated:
        return redirect(url_for("index"))
    user = _pending()
    if user is None:
        for key in PENDING_KEYS:
            session.pop(key, None)
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        kind = twofactor.check_code(user, form.code.data)
        if kind is None:
            db.session.commit()
            ratelimit.failed()
            flash(GENERIC_CODE_ERROR, "error")
            return render_template("auth/verify.html", form=form, patient=user.is_patient), 200
        if kind == "totp":
            record("2fa.verified", target_type="user", target_id=user.id, actor=user)
        remember, next_url = session.get("2fa_remember", False), session.get("2fa_next")
        sessions.sign_in(user, remember=remember, second_factor=True)
        record("login", target_type="user", target_id=user.id, actor=user)
        db.session.commit()
        ratelimit.remember_device(user)
        if kind == "recovery":
            flash(f"You used a recovery code. {twofactor.remaining_recovery_codes(user)} remain; "
                  "you can make new ones under Sign-in security.", "info")
        return redirect(safe_next(next_url) or url_for("index"))
    return render_template("auth/verify.html", form=form, patient=user.is_patient)


@bp.post("/login/verify/lost")
def lost_second_factor():
    """Half signed in (the password given) and without phone or recovery codes: a patient is
    emailed a link that turns the second factor off; staff are sent to an administrator (the
    operator's `reset-two-factor`). A signed-in session alone never reaches this."""
    if current_user.is_authenticated:
        return redirect(url_for("index"))
    user = _pending()
    if user is None:
        flash("Please sign in again.", "info")
        return redirect(url_for("auth.login"))
    if not user.is_patient:
        flash("Clinic staff: ask your clinic's administrator to reset your two-step sign-in.", "info")
        return redirect(url_for("auth.verify"))
    outbox.queue_two_factor_off(user)
    db.session.commit()
    flash("We are emailing you a link that turns two-step sign-in off. It works once, for an hour.", "info")
    return redirect(url_for("auth.verify"))


@bp.route("/account/two-factor-off/<token>", methods=["GET", "POST"])
def two_factor_off(token: str):
    """The emailed link: turns a patient's second factor off, ends every session of the account
    and sends them to sign in with their password (then to set it up again on a new phone)."""
    found = tokens.find_valid(token, tokens.TWO_FACTOR_OFF)
    if found is None or not found.user.active or not found.user.is_patient:
        return render_template("auth/link_invalid.html"), 404
    if request.method == "POST":  # (its CSRF token checked by CSRFProtect, as on every POST)
        if not tokens.redeem(found):
            db.session.rollback()
            return render_template("auth/link_invalid.html"), 404
        user = found.user
        twofactor.disable(user)
        sessions.end_all(user)
        record("2fa.reset_by_email", target_type="user", target_id=user.id, actor=user)
        if current_user.is_authenticated:
            sessions.sign_out()
        db.session.commit()
        flash("Two-step sign-in is off. Sign in with your password; you can turn it on again with your new "
              "phone under Sign-in security.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/two_factor_off.html")


@bp.post("/logout")
@login_required
def logout():
    record("logout", target_type="user", target_id=current_user.id)
    # Ends the session on the server too: a copy of the cookie no longer works.
    # Nothing of this session (such as a provider's name search) outlives the sign-out.
    sessions.sign_out()
    db.session.commit()
    # The idle warning (static/js/idle.js) signs out with reason=idle when nobody answered it.
    flash(sessions.SIGNED_OUT_MESSAGE if request.form.get("reason") == "idle" else "You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.post("/account/stay-signed-in")
@login_required
def stay_signed_in():
    """"Stay signed in" in the idle warning: the session counts as used now. A POST with the
    CSRF token (another site cannot keep someone signed in); answers the seconds left."""
    left = sessions.stay_signed_in()
    # The touch is the whole point of the request: kept even if nothing else happens.
    db.session.commit()
    return jsonify(seconds_left=left)


@bp.route("/account/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _set_password_with(token, tokens.INVITATION, "auth/accept_invitation.html")


@bp.route("/account/reset", methods=["GET", "POST"])
def request_reset():
    form = RequestResetForm()
    if form.validate_on_submit():
        # Queued by address, looked up by the runner (outbox.py): the same work, answer and
        # time whether or not the account exists, and the mail server is never waited for.
        outbox.queue_password_reset(form.email.data)
        db.session.commit()
        flash("If that address has an account, we are sending it a link to choose a new password.", "info")
        return redirect(url_for("auth.login"))
    return render_template("auth/request_reset.html", form=form)


@bp.route("/account/reset/<token>", methods=["GET", "POST"])
def reset_password(token: str):
    return _set_password_with(token, tokens.PASSWORD_RESET, "auth/reset_password.html")


def _set_password_with(raw: str, purpose: str, template: str):
    token = tokens.find_valid(raw, purpose)
    if token is None or not token.user.active:
        return render_template("auth/link_invalid.html"), 404
    form = SetPasswordForm()
    if form.validate_on_submit():
        if not tokens.redeem(token):
            db.session.rollback()
            return render_template("auth/link_invalid.html"), 404
        user = token.user
        set_password(user, form.password.data)
        # Every session of this account ends, here and on the server (see sessions.end_all).
        sessions.end_all(user)
        record(f"account.password_set.{purpose}", target_type="user", target_id=user.id, actor=user)
        if current_user.is_authenticated:
            sessions.sign_out()
        if user.totp_enabled_at is not None:
            # An emailed link is not a second factor: the code is still asked for.
            _await_second_factor(user, remember=False, next_url=None)
            db.session.commit()
            flash("Your password is saved. Enter a code from your authenticator app to sign in.", "info")
            return redirect(url_for("auth.verify"))
        sessions.sign_in(user, remember=False, second_factor=False)
        db.session.commit()
        flash("Your password is saved and you are signed in.", "info")
        return redirect(url_for("index"))
    return render_template(template, form=form, user=token.user)
