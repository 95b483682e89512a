"""Patients as plain values, for the pages that list a panel's worth of them (the triage
dashboard, the clinic report). Those pages keep what they read in the worker between views
(write_version.Cache), and no ORM object may outlive its request; plain rows are also far
cheaper to load than hundreds of User objects."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time

from sqlalchemy import Select, select
from sqlalchemy.orm import aliased

from .extensions import db
from .models import User, care_team, display_name


@dataclass(frozen=True)
class ListedPatient:
    """What a listing shows and computes of a patient."""

    id: int
    first_name: str
    last_name: str
    email: str
    timezone: str
    status: str
    created_at: datetime | None
    reminder_time: time | None
    has_password: bool
    providers: tuple[str, ...] = ()   # the care team's names, when asked for

    @property
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.email)


def listed(visible: Select, *, with_providers: bool = False) -> list[ListedPatient]:
    """The patients a SELECT of User rows finds (access.patients_visible_to, in its order)."""
    providers: dict[int, list[str]] = {}
    if with_providers:
        provider = aliased(User)
        for patient_id, first, last, email in db.session.connection().execute(
                select(care_team.c.patient_id, provider.first_name, provider.last_name, provider.email)
                .join(provider, provider.id == care_team.c.provider_id).order_by(provider.id)).all():
            providers.setdefault(patient_id, []).append(display_name(first, last, email))
    return [ListedPatient(*row, providers=tuple(providers.get(row[0], ()))) for row in db.session.connection().execute(
        visible.with_only_columns(User.id, User.first_name, User.last_name, User.email, User.timezone, User.status,
                                  User.created_at, User.reminder_time, User.password_hash.is_not(None))).all()]
