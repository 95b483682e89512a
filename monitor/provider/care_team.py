"""Which providers a patient's record belongs to (SPEC 6: admins assign). A provider sees
exactly the patients on their panel, so this is an access decision: admins only, audited
with the provider ids before and after."""
from flask import flash, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import select

from ..access import patient_or_404, refuse
from ..audit import record
from ..extensions import db
from ..models import Role, User
from .views import bp


def active_providers() -> list[User]:
    return db.session.scalars(
        select(User).where(User.role == Role.PROVIDER.value, User.active.is_(True))
        .order_by(User.last_name, User.first_name, User.id)
    ).all()


@bp.post("/patients/<int:patient_id>/care-team")
def care_team(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    if not current_user.is_admin:
        refuse(target_type="patient", target_id=patient.id)
    allowed = {p.id: p for p in active_providers()}
    try:
        chosen = {int(value) for value in request.form.getlist("providers")}
    except ValueError:
        chosen = {-1}
    back = redirect(url_for("provider.patient", patient_id=patient.id, _anchor="care-team"), code=303)
    if not chosen:
        flash("Choose at least one provider: a patient on nobody's panel would go unwatched.", "error")
        return back
    if not chosen <= allowed.keys():
        flash("Choose providers from the list.", "error")
        return back
    before = sorted(p.id for p in patient.providers)
    # Deactivated providers stay on the panel until someone chooses otherwise here.
    keep = [p for p in patient.providers if not p.active]
    patient.providers = keep + [allowed[i] for i in sorted(chosen)]
    after = sorted(p.id for p in patient.providers)
    if after == before:
        flash("Nothing was changed.", "info")
        return back
    record("patient.care_team_changed", target_type="patient", target_id=patient.id,
           detail=f"providers {before} -> {after}")
    db.session.commit()
    flash("The patient's providers are saved.", "info")
    return back
