"""Who may see which patient: the one place authorisation is decided.

Every view that takes a patient id goes through patient_or_404, so a record outside one's
reach answers exactly like a record that does not exist."""
from typing import NoReturn

from flask import abort, request
from sqlalchemy import Select, select

from . import audit
from .extensions import db
from .models import Role, User, care_team


def patients_visible_to(user: User) -> Select:
    """A SELECT of the patient accounts this user may see."""
    query = select(User).where(User.role == Role.PATIENT.value)
    if user.role == Role.ADMIN.value:
        return query
    if user.role == Role.PROVIDER.value:
        return query.where(
            User.id.in_(select(care_team.c.patient_id).where(care_team.c.provider_id == user.id))
        )
    return query.where(User.id == user.id)


def refuse(*, target_type: str | None = None, target_id: int | None = None) -> NoReturn:
    """Answer a refusal exactly like a missing record (404), and keep it in the audit log.
    Whatever the request had changed so far is dropped: a refused request stores nothing."""
    db.session.rollback()
    detail = None if target_type else f"{request.method} {request.path}"
    audit.after_response("access.refused", target_type=target_type, target_id=target_id, detail=detail)
    abort(404)


def patient_or_404(user: User, patient_id: int) -> User:
    patient = db.session.scalar(patients_visible_to(user).where(User.id == patient_id))
    if patient is None:
        refuse(target_type="patient", target_id=patient_id)
    return patient
