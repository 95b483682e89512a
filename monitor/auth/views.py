"""Sign in and out, invitations and password resets. No open sign-up: accounts are enrolled."""
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from .. import tokens
from ..accounts import find_by_email, send_password_reset, set_password
from ..audit import record
from ..extensions import db
from ..passwords import hash_password, needs_rehash, verify_password
from .forms import LoginForm, RequestResetForm, SetPasswordForm

bp = Blueprint("auth", __name__)

GENERIC_LOGIN_ERROR = "Email or password is incorrect."


def safe_next(target: str | None) -> str | None:
    """Only same-site paths: refuses //host, scheme:, and backslash tricks."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return None
    return target


@bp.route("/login", methods=["GET", "POST"])
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
            flash(GENERIC_LOGIN_ERROR, "error")
            return render_template("auth/login.html", form=form), 200
        if needs_rehash(user.password_hash):
            user.password_hash = hash_password(form.password.data)
        login_user(user)
        record("login", target_type="user", target_id=user.id, actor=user)
        db.session.commit()
        return redirect(safe_next(request.args.get("next")) or url_for("index"))
    return render_template("auth/login.html", form=form)


@bp.post("/logout")
@login_required
def logout():
    record("logout", target_type="user", target_id=current_user.id)
    db.session.commit()
    logout_user()
    # Nothing of this session (such as a provider's name search) outlives the sign-out.
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/invitation/<token>", methods=["GET", "POST"])
def accept_invitation(token: str):
    return _set_password_with(token, tokens.INVITATION, "auth/accept_invitation.html")


@bp.route("/account/reset", methods=["GET", "POST"])
def request_reset():
    form = RequestResetForm()
    if form.validate_on_submit():
        user = find_by_email(form.email.data)
        if user is not None and user.active and user.has_password:
            send_password_reset(user)
        # The same answer whether or not the account exists.
        flash("If that address has an account, we have emailed it a link to choose a new password.", "info")
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
        record(f"account.password_set.{purpose}", target_type="user", target_id=user.id, actor=user)
        db.session.commit()
        if current_user.is_authenticated:
            logout_user()
        login_user(user)
        flash("Your password is saved and you are signed in.", "info")
        return redirect(url_for("index"))
    return render_template(template, form=form, user=token.user)
