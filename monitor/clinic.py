"""The clinic's settings row, created with SPEC defaults the first time it is needed."""
from sqlalchemy import select

from .extensions import db
from .models import Clinic


def clinic_name() -> str:
    """The clinic's name, read without creating the settings row (a refused form must store
    nothing, not even the defaults)."""
    name = db.session.scalar(select(Clinic.name).order_by(Clinic.id).limit(1))
    return name if name is not None else Clinic.__table__.c.name.default.arg


def get_clinic() -> Clinic:
    clinic = db.session.scalar(select(Clinic).order_by(Clinic.id).limit(1))
    if clinic is None:
        clinic = Clinic()
        db.session.add(clinic)
        db.session.flush()
    return clinic


def update_settings(clinic: Clinic, values: dict) -> list[str]:
    """Store new settings; "name: old -> new" for each that changed (for the audit log, which
    holds no patient data here). Caller commits."""
    changes = []
    for name, new in values.items():
        old = getattr(clinic, name)
        if old != new:
            setattr(clinic, name, new)
            shown = (lambda v: "(text)") if name == "crisis_text" else str
            changes.append(f"{name}: {shown(old)} -> {shown(new)}")
    return changes
