"""The clinic's settings row, created with SPEC defaults the first time it is needed."""
from sqlalchemy import select

from .extensions import db
from .models import Clinic


def get_clinic() -> Clinic:
    clinic = db.session.scalar(select(Clinic).order_by(Clinic.id).limit(1))
    if clinic is None:
        clinic = Clinic()
        db.session.add(clinic)
        db.session.flush()
    return clinic
