"""The signed-in "Sign-in security" page: the second factor and recovery codes, changing the
password, and the account's signed-in sessions (ASVS V7.5: see them and end the others).

Everything that changes how one signs in or ends other sessions asks for the password again in
the same form (turning the second factor on or off, new recovery codes, changing the password,
signing out elsewhere), so a session left open on a shared computer, or stolen, cannot lock its
owner out or hide itself (the retest's M2)."""
from flask import abort, flash, redirect, render_template, session, url_for
from flask_login import current_user, login_required

from .. import sessions, twofactor
from ..accounts import set_password
from ..audit import record
from ..clinic import get_clinic
from ..extensions import db
from ..passwords import verify_password
from ..timeutil import to_local, utcnow
from . import bp
from .forms import GENERIC_CODE_ERROR, ChangePasswordForm, ConfirmPasswordForm, PasswordAndCodeForm

WRONG_PASSWORD = "That is not your current password."


def _render_security(user, *, end_form=None, form=None, status=200):
    this = sessions.current()
    rows = [{
        "this_device": this is not None and row.id == this.id,
        "started": to_local(row.created_at, user.timezone),
        "last_seen": to_local(row.last_seen_at, user.timezone),
        "address": row.ip or "unknown",
        "kept": row.remember,
    } for row in sessions.live_for(user)]
    return render_template("auth/security.html", user=user, form=form or PasswordAndCodeForm(),
                           remaining=twofactor.remaining_recovery_codes(user),
                           sessions=rows, end_form=end_form or ConfirmPasswordForm()), status


def _password_matches(user, form_field) -> bool:
    """Check a re-entered password; a miss is audited and shown on the field. Caller commits."""
    if verify_password(user.password_hash, form_field.data):
        return True
    record("reauth.failed", target_type="user", target_id=user.id)
    form_field.errors = [*form_field.errors, WRONG_PASSWORD]
    return False


def _refused(user, form):
    """The security page again (400) unless the form holds the password and a good code."""
    if not form.validate_on_submit() or not _password_matches(user, form.current_password):
        db.session.commit()
        return _render_security(user, form=form, status=400)
    if twofactor.check_code(user, form.code.data) is None:
        form.code.errors = [*form.code.errors, GENERIC_CODE_ERROR]
        db.session.commit()
        return _render_security(user, form=form, status=400)
    return None


@bp.get("/account/security")
@login_required
def security():
    return _render_security(current_user._get_current_object())


@bp.post("/account/security/sessions/end-others")
@login_required
def end_other_sessions():
    user = current_user._get_current_object()
    form = ConfirmPasswordForm()
    if not form.validate_on_submit() or not _password_matches(user, form.current_password):
        db.session.commit()
        return _render_security(user, end_form=form, status=400)
    this = sessions.current()
    ended = sum(1 for row in sessions.live_for(user) if this is None or row.id != this.id)
    sessions.end_all(user, keep=this)
    record("session.ended_others", target_type="user", target_id=user.id, detail=f"{ended} ended")
    db.session.commit()
    flash("You are signed out everywhere else." if ended else "You were not signed in anywhere else.", "info")
    return redirect(url_for("auth.security"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def change_password():
    user = current_user._get_current_object()
    form = ChangePasswordForm()
    if form.validate_on_submit():
        if _password_matches(user, form.current_password):
            this = sessions.current()
            set_password(user, form.password.data)
            # Every session ends, this one included; this browser gets a fresh one, keeping what
            # it had proved (the second factor) and whether it was kept signed in.
            sessions.end_all(user)
            record("account.password_changed", target_type="user", target_id=user.id)
            sessions.sign_in(user, remember=bool(this and this.remember),
                     second_factor=bool(this and this.second_factor_at))
            db.session.commit()
            flash("Your password is changed. You are signed out everywhere else.", "info")
            return redirect(url_for("auth.security"))
        db.session.commit()
        return render_template("auth/change_password.html", form=form, user=user), 400
    status = 400 if form.errors else 200
    return render_template("auth/change_password.html", form=form, user=user), status


@bp.route("/account/security/two-factor", methods=["GET", "POST"])
@login_required
def enrol_two_factor():
    user = current_user._get_current_object()
    if user.totp_enabled_at is not None:
        return redirect(url_for("auth.security"))
    secret = twofactor.pending_secret(session)
    form = PasswordAndCodeForm()
    if form.validate_on_submit() and _password_matches(user, form.current_password):
        codes = twofactor.confirm_enrolment(user, secret, form.code.data)
        if codes is not None:
            this_session = sessions.current()
            this_session.second_factor_at = utcnow()
            # Sessions elsewhere were opened without the factor: they end now (the page said so).
            sessions.end_all(user, keep=this_session)
            record("2fa.enrolled", target_type="user", target_id=user.id)
            db.session.commit()
            session.pop(twofactor.PENDING_SECRET, None)
            return render_template("auth/recovery_codes.html", codes=codes)
        record("2fa.failed", target_type="user", target_id=user.id, detail="enrolment")
        form.code.errors = [*form.code.errors, GENERIC_CODE_ERROR]
    db.session.commit()  # a wrong password or code is audited
    uri = twofactor.provisioning_uri(user, secret, get_clinic().name)
    return render_template("auth/enrol.html", form=form, qr=twofactor.qr_data_uri(uri),
                           secret=twofactor.display_secret(secret), user=user,
                           others=len(sessions.live_for(user)) - 1,
                           required=sessions.needs_enrolment(user)), 400 if form.errors else 200


@bp.post("/account/security/recovery-codes")
@login_required
def regenerate_recovery_codes():
    user = current_user._get_current_object()
    form = PasswordAndCodeForm()
    refused = _refused(user, form)
    if refused:
        return refused
    codes = twofactor.new_recovery_codes(user)
    record("2fa.recovery_codes_replaced", target_type="user", target_id=user.id)
    db.session.commit()
    return render_template("auth/recovery_codes.html", codes=codes)


@bp.post("/account/security/two-factor/disable")
@login_required
def disable_two_factor():
    user = current_user._get_current_object()
    if not user.is_patient:
        abort(404)  # required for staff
    form = PasswordAndCodeForm()
    refused = _refused(user, form)
    if refused:
        return refused
    twofactor.disable(user)
    record("2fa.disabled", target_type="user", target_id=user.id)
    db.session.commit()
    flash("Two-step sign-in is off.", "info")
    return redirect(url_for("auth.security"))
