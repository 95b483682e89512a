"""The clinic's settings (SPEC 4's thresholds, the crisis line, the clinic's zone) and its staff
accounts. Every change is audited with what changed."""
from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import func, select
from wtforms.fields.choices import SelectChoice

from .. import accounts, outbox, sessions, stored_analysis, tokens
from ..audit import record
from ..clinic import get_clinic, update_settings
from ..extensions import db
from ..models import Role, User, care_team
from ..timeutil import timezone_choices
from ..security import offers_resubmit
from . import bp
from .forms import ClinicSettingsForm, StaffForm


@bp.route("/clinic", methods=["GET", "POST"])
@offers_resubmit(ClinicSettingsForm)
def clinic_settings():
    clinic = get_clinic()
    form = ClinicSettingsForm()
    form.timezone.choices = [SelectChoice(zone) for zone in timezone_choices()]
    if request.method == "GET":
        form.fill_from(clinic)
        return render_template("admin/clinic.html", form=form)
    if not form.validate():
        return render_template("admin/clinic.html", form=form), 400
    changes = update_settings(clinic, form.values())
    for change in changes:  # one event each: a detail is kept short
        record("clinic.setting_changed", target_type="clinic", target_id=clinic.id, detail=change)
    db.session.commit()
    if stored_analysis.updating():
        # Every patient's figures depend on SPEC 4's settings: recomputed in the background.
        if current_app.config["ANALYSIS_REFRESH_IN_BACKGROUND"]:
            stored_analysis.refresh_in_background(current_app._get_current_object())
        else:
            stored_analysis.refresh_stale(commit=db.session.commit)
        flash("The clinic's settings are saved. Every patient's figures are being worked out again with them; "
              "pages say so until that is done.", "info")
        return redirect(url_for("admin.clinic_settings"), code=303)
    flash("The clinic's settings are saved." if changes else "Nothing was changed.", "info")
    return redirect(url_for("admin.clinic_settings"), code=303)


# --- Staff accounts.

def _staff_page(form: StaffForm, status: int = 200):
    staff = db.session.scalars(
        select(User).where(User.role.in_([Role.PROVIDER.value, Role.ADMIN.value]))
        .order_by(User.active.desc(), func.lower(User.last_name), func.lower(User.first_name), User.id)
    ).all()
    panel_sizes = dict(db.session.execute(
        select(care_team.c.provider_id, func.count()).group_by(care_team.c.provider_id)).all())
    return render_template("admin/staff.html", staff=staff, panel_sizes=panel_sizes, form=form), status


@bp.get("/staff")
def staff():
    return _staff_page(StaffForm())


@bp.post("/staff")
def add_staff():
    form = StaffForm()
    if not form.validate():
        return _staff_page(form, 400)
    try:
        user = accounts.invite_staff(form.email.data, form.first_name.data, form.last_name.data,
                                     form.role.data, actor=current_user)
    except accounts.DuplicateEmail as duplicate:
        form.email.errors.append(str(duplicate))
        return _staff_page(form, 400)
    outbox.queue_invitation(user)
    db.session.commit()
    flash(f"{user.display_name} is added. {outbox.INVITATION_QUEUED}", "info")
    return redirect(url_for("admin.staff"), code=303)


def _staff_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None or not user.is_staff:
        abort(404)
    return user


@bp.post("/staff/<int:user_id>/invite")
def reinvite_staff(user_id: int):
    user = _staff_or_404(user_id)
    if user.has_password or not user.active:
        flash(f"{user.display_name} has already set up their account." if user.has_password
              else f"{user.display_name}'s account is deactivated.", "error")
    else:
        outbox.queue_invitation(user)
        db.session.commit()
        flash(f"A new invitation email for {user.display_name} is queued for sending. "
              "Earlier links no longer work.", "info")
    return redirect(url_for("admin.staff"), code=303)


@bp.post("/staff/<int:user_id>/active")
def set_staff_active(user_id: int):
    """Deactivate (sign out everywhere, no sign-in) or reactivate a staff account."""
    user = _staff_or_404(user_id)
    active = request.form.get("active") == "1"
    if not active and user.id == current_user.id:
        # Also keeps the clinic from losing its last admin: whoever asks is an active one.
        flash("You cannot deactivate your own account.", "error")
    elif user.active != active:
        user.active = active
        if not active:
            sessions.end_all(user)
            tokens.revoke_unused(user)  # an invitation or reset link mailed earlier dies too
        record("staff.reactivated" if active else "staff.deactivated", target_type="user", target_id=user.id)
        db.session.commit()
        flash(f"{user.display_name} is {'reactivated' if active else 'deactivated'}.", "info")
    return redirect(url_for("admin.staff"), code=303)
