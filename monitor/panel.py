"""The provider's panel (triage list): one row per visible patient with their latest check-in
and last past treatment session.

Built with a fixed number of queries whatever the panel's size: the patients, their latest
check-ins, their last session instants (and, for an admin, everyone's providers)."""
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from .access import patients_visible_to
from .extensions import db
from .instruments import Band, band_for
from .models import CheckIn, Treatment, User
from .timeutil import local_today, to_local, utcnow


@dataclass
class PanelRow:
    patient: User
    latest: CheckIn | None
    band: Band | None
    # Patient-local calendar days from the last session that has happened to today (SPEC 4's "day d").
    days_since_session: int | None

    @property
    def last_checkin_date(self) -> date | None:
        return self.latest.local_date if self.latest else None

    @property
    def severe_side_effect(self) -> bool:
        return bool(self.latest and self.latest.has_severe_side_effect)

    @property
    def invitation_pending(self) -> bool:
        return not self.patient.has_password


def panel_rows(viewer: User, now: datetime | None = None) -> list[PanelRow]:
    """The viewer's panel (an admin's is every patient), ordered by last name."""
    now = now or utcnow()
    query = patients_visible_to(viewer).order_by(func.lower(User.last_name), func.lower(User.first_name), User.id)
    if viewer.is_admin:
        query = query.options(selectinload(User.providers))
    patients = db.session.scalars(query).all()
    if not patients:
        return []
    visible_ids = patients_visible_to(viewer).with_only_columns(User.id).scalar_subquery()

    newest = (
        select(CheckIn.patient_id, func.max(CheckIn.local_date).label("local_date"))
        .where(CheckIn.patient_id.in_(visible_ids))
        .group_by(CheckIn.patient_id)
        .subquery()
    )
    latest = {
        checkin.patient_id: checkin
        for checkin in db.session.scalars(
            select(CheckIn).join(
                newest, (CheckIn.patient_id == newest.c.patient_id) & (CheckIn.local_date == newest.c.local_date)
            )
        )
    }
    # Planned (future) sessions are not "since".
    last_session = dict(db.session.execute(
        select(Treatment.patient_id, func.max(Treatment.administered_at))
        .where(Treatment.patient_id.in_(visible_ids), Treatment.administered_at <= now)
        .group_by(Treatment.patient_id)
    ).all())

    rows = []
    for patient in patients:
        checkin = latest.get(patient.id)
        session_at = last_session.get(patient.id)
        days = None
        if session_at is not None:
            days = (local_today(patient.timezone, now) - to_local(session_at, patient.timezone).date()).days
        rows.append(PanelRow(
            patient=patient, latest=checkin,
            band=band_for(checkin.total) if checkin else None,
            days_since_session=days,
        ))
    return rows
