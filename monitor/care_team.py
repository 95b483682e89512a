"""Which providers a patient's record belongs to (SPEC 6: admins assign). A provider sees
exactly the patients on their panel, so this is an access decision: audited with the
provider ids before and after. The caller checks that the actor is an admin, and commits."""
from sqlalchemy import select

from .audit import record
from .extensions import db
from .models import Role, User


def active_providers() -> list[User]:
    """The providers who can be given patients, by name."""
    return db.session.scalars(
        select(User).where(User.role == Role.PROVIDER.value, User.active.is_(True))
        .order_by(User.last_name, User.first_name, User.id)
    ).all()


def change_providers(patient: User, chosen_ids: set[int], *, actor: User) -> bool:
    """Give the patient exactly these active providers; whether anything changed. Raises
    ValueError with the message to show when the choice is empty or not from the list.

    Deactivated providers stay on the panel until someone chooses otherwise here."""
    allowed = {p.id: p for p in active_providers()}
    if not chosen_ids:
        raise ValueError("Choose at least one provider: a patient on nobody's panel would go unwatched.")
    if not chosen_ids <= allowed.keys():
        raise ValueError("Choose providers from the list.")
    before = sorted(p.id for p in patient.providers)
    keep = [p for p in patient.providers if not p.active]
    patient.providers = keep + [allowed[i] for i in sorted(chosen_ids)]
    after = sorted(p.id for p in patient.providers)
    if after == before:
        return False
    record("patient.care_team_changed", target_type="patient", target_id=patient.id, actor=actor,
           detail=f"providers {before} -> {after}")
    return True
