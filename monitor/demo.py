"""A demo clinic with 90 days of made-up but realistic history, for trying the app out.

Every patient follows a simple model of ketamine's effect on the daily check-in total:
a baseline of 14-18 before the first treatment session, a drop on the days after each session
(lowest 1-3 days after), then the benefit wearing off around day 5-9, with day-to-day noise,
missed days and a slow improvement over the course. A few patients are there to show the
dashboard's other cases: a non-responder, a lapsed patient, a severe side effect, a patient
on two providers' panels, patients in other time zones. Deterministic: one fixed seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from .audit import record
from .clinic import get_clinic
from .extensions import db
from .instruments import GAD7_INTERVAL_DAYS, ITEM_CODES, ITEM_MAX, SIDE_EFFECT_KEYS, TOTAL_MAX
from .models import CheckIn, Role, StandardGad7, Treatment, User
from .passwords import hash_password
from .timeutil import utcnow

# Printed by seed-demo: a published password, so the demo must never hold real patients. Exempt
# on purpose from passwords.password_problem (it is built on the clinic's name and would be
# refused): no rule makes a published password secret.
DEMO_PASSWORD = "demo-clinic-password"
SEED = 7_2026
HISTORY_DAYS = 90
CLINIC_NAME = "Demo Clinic"
CLINIC_PHONE = "(555) 010-0199"  # 555-01xx numbers are reserved for fiction
DOMAIN = "demo-clinic.example"  # .example never receives mail (RFC 2606)
LAPSED_SILENT_DAYS = 6  # the lapsed patient's last check-in was this many days ago
INDUCTION_TREATMENTS = 6  # weekly sessions before some patients move to every 10-14 days


class DemoRefused(Exception):
    """The database already has accounts; the demo never mixes with real data."""


@dataclass(frozen=True)
class Profile:
    """One demo patient: who they are and how they respond to treatment sessions."""

    first: str
    last: str
    providers: tuple[int, ...]  # indexes into the providers
    route: str
    baseline: float  # mean daily total before the first session
    gain: float  # points below the current level at the lowest, 1-3 days after a session
    lasts: int  # days after a session when the benefit has mostly worn off
    drift: float = 2.0  # points the pre-session level falls over the first six sessions
    adherence: float = 0.92  # chance of a check-in on any given day
    first_treatment: int = 14  # day of the history (0 = 89 days ago) of the first session
    weight_kg: int = 75
    lozenge_max_mg: int = 250
    switch_to_im_after: int | None = None  # sessions on lozenges before moving to IM
    maintenance_every: int | None = None  # days between sessions after the weekly induction
    planned: bool = False  # has a booster booked after today
    tz: str | None = None  # None: the clinic's time zone
    kind: str = ""  # "non-responder", "lapsed", "severe side effect" (printed with the logins)


PROVIDERS = [("Rosa", "Rivera"), ("Martin", "Chen")]
ADMIN = ("Dana", "Whitfield")

PATIENTS = [
    Profile("Maya", "Patel", (0,), "lozenge", 16, 9, 5, first_treatment=12, planned=True),
    Profile("James", "O'Connor", (0,), "intramuscular", 17, 11, 5, weight_kg=82, first_treatment=10),
    Profile("Sofia", "Alvarez", (0, 1), "lozenge", 15, 9, 5, switch_to_im_after=4, weight_kg=64,
            first_treatment=15, planned=True, kind="on both panels"),
    Profile("Daniel", "Kim", (0,), "intramuscular", 18, 12, 7, weight_kg=90, first_treatment=9,
            maintenance_every=14, tz="America/Los_Angeles"),
    Profile("Aisha", "Bello", (0,), "lozenge", 14, 8, 5, first_treatment=16, planned=True,
            kind="severe side effect"),
    Profile("Tom", "Becker", (0,), "lozenge", 16, 0.5, 0, drift=0.0, first_treatment=11,
            lozenge_max_mg=300, planned=True, kind="non-responder"),
    Profile("Priya", "Shah", (0,), "intramuscular", 16, 10, 9, weight_kg=58, first_treatment=18,
            maintenance_every=14),
    Profile("Grace", "Liu", (1,), "intramuscular", 15, 9, 7, weight_kg=61, first_treatment=13,
            maintenance_every=10, planned=True),
    Profile("Marcus", "Reed", (1,), "lozenge", 17, 8, 5, first_treatment=8, kind="lapsed"),
    Profile("Hannah", "Schultz", (1,), "intramuscular", 16, 10, 6, weight_kg=70, first_treatment=14,
            tz="America/Chicago", planned=True),
    Profile("Omar", "Haddad", (1,), "lozenge", 14, 7, 5, adherence=0.78, first_treatment=17),
    Profile("Emily", "Novak", (1,), "intramuscular", 18, 13, 7, weight_kg=67, first_treatment=12,
            maintenance_every=12, planned=True),
    Profile("Lucas", "Ferreira", (1,), "lozenge", 15, 8, 6, lozenge_max_mg=200, first_treatment=19),
    Profile("Noah", "Williams", (1,), "lozenge", 17, 9, 5, drift=3.0, first_treatment=10),
]

# Items 1-3 (worry) usually carry more of the total than restlessness or irritability.
ITEM_WEIGHTS = [1.4, 1.4, 1.3, 1.1, 0.7, 0.9, 0.8]

NOTES = {
    "session": ["Felt floaty for about an hour after the session, fine by dinner.",
                "A bit queasy on the drive home.", "Tired after the session, slept early."],
    "nadir": ["Calmest I've felt in months.", "Good day. Went for a long walk.", "Slept well for once."],
    "waning": ["Anxiety creeping back today.", "Worrying about work again.", "Harder to switch off tonight."],
    "any": ["Stressful day at work.", "Slept badly.", "Family visiting, a lot going on."],
}


@dataclass
class DemoAccount:
    role: str
    email: str
    name: str
    about: str = ""


@dataclass
class DemoSummary:
    clinic_name: str
    password: str
    accounts: list[DemoAccount] = field(default_factory=list)
    checkins: int = 0
    treatments: int = 0
    planned_treatments: int = 0


def seed_demo(now: datetime | None = None) -> DemoSummary:
    """Create the demo clinic in an empty database and commit. Raises DemoRefused otherwise."""
    if db.session.scalar(select(func.count()).select_from(User)):
        raise DemoRefused("The database already has accounts; seed-demo only fills an empty database.")
    now = now or utcnow()
    rng = random.Random(SEED)
    clinic = get_clinic()
    clinic.name, clinic.phone = CLINIC_NAME, CLINIC_PHONE
    summary = DemoSummary(clinic.name, DEMO_PASSWORD)
    password_hash = hash_password(DEMO_PASSWORD)  # once: argon2 is slow by design

    def account(role: Role, first: str, last: str, tz: str, about: str = "") -> User:
        email = f"{first}.{last}".lower().replace("'", "") + f"@{DOMAIN}"
        user = User(email=email, role=role.value, first_name=first, last_name=last, timezone=tz,
                    password_hash=password_hash, created_at=now - timedelta(days=HISTORY_DAYS + 7))
        summary.accounts.append(DemoAccount(role.value, email, f"{first} {last}", about))
        db.session.add(user)
        return user

    account(Role.ADMIN, *ADMIN, clinic.timezone)
    providers = [account(Role.PROVIDER, first, last, clinic.timezone) for first, last in PROVIDERS]
    patients = []
    for profile in PATIENTS:
        patient = account(Role.PATIENT, profile.first, profile.last, profile.tz or clinic.timezone, profile.kind)
        patient.providers = [providers[i] for i in profile.providers]
        patients.append((patient, profile))
    db.session.flush()  # ids for the check-ins and sessions below

    # Its own generator: the daily history stays what it was before standard GAD-7s were added.
    gad7_rng = random.Random(SEED + 1)
    # Made-up history is written as rows directly, not through checkins.save_checkin and
    # treatments.record_treatment: it is generated valid, has no one who recorded it, and one
    # "demo.seeded" audit event describes all of it.
    for patient, profile in patients:
        treatments = _treatments(profile, patient, clinic.timezone, now, rng)
        checkins = _checkins(profile, patient, treatments, now, rng)
        db.session.add_all(treatments)
        db.session.add_all(checkins)
        db.session.add_all(_standard_gad7s(patient, checkins, weights=ITEM_WEIGHTS, rng=gad7_rng))
        summary.checkins += len(checkins)
        summary.treatments += len(treatments)
        summary.planned_treatments += sum(s.administered_at > now for s in treatments)
    record("demo.seeded", detail=f"{len(patients)} patients, {summary.treatments} sessions, "
                                 f"{summary.checkins} check-ins")
    return summary


# --- Treatment sessions --------------------------------------------------------------------

def _treatment_dates(profile: Profile, today: date, rng: random.Random) -> list[date]:
    """Weekly on a weekday from the first session (for some, every 10-14 days after the first
    six), sometimes a day late, at most one skipped week after the first six; the lapsed
    patient stopped coming; some have the next booster booked."""
    start = today - timedelta(days=HISTORY_DAYS - 1)
    first = start + timedelta(days=profile.first_treatment)
    while first.weekday() >= 5:
        first += timedelta(days=1)
    last = today - timedelta(days=12) if profile.kind == "lapsed" else today
    dates: list[date] = []
    skipped = False
    planned_day = first
    while True:
        if planned_day > last:
            if profile.planned:
                dates.append(planned_day)
            return dates
        weekly = profile.maintenance_every is None or len(dates) < INDUCTION_TREATMENTS
        if len(dates) >= INDUCTION_TREATMENTS and weekly and not skipped and rng.random() < 0.08:
            skipped = True  # one missed week (holiday, illness), never during induction
        else:
            day = planned_day + timedelta(days=1 if rng.random() < 0.1 else 0)  # now and then moved a day
            dates.append(planned_day if day.weekday() >= 5 or day > last else day)
        weekly = profile.maintenance_every is None or len(dates) < INDUCTION_TREATMENTS
        planned_day += timedelta(days=7 if weekly else profile.maintenance_every)


def _treatments(profile: Profile, patient: User, clinic_tz: str, now: datetime,
              rng: random.Random) -> list[Treatment]:
    zone = ZoneInfo(clinic_tz)
    today = now.astimezone(zone).date()
    recorded_by = patient.providers[0].id
    treatments = []
    for number, day in enumerate(_treatment_dates(profile, today, rng)):
        slot = time(9 + rng.randrange(7), rng.choice([0, 30]))
        at = datetime.combine(day, slot, tzinfo=zone).astimezone(timezone.utc)
        route = profile.route
        if profile.switch_to_im_after is not None and number >= profile.switch_to_im_after:
            route = "intramuscular"
        session = Treatment(
            patient_id=patient.id, administered_at=at, route=route, dose_mg=_dose(profile, route, number),
            recorded_by_id=recorded_by, source="web",
            created_at=min(at, now), updated_at=min(at, now),
        )
        if at <= now:
            _add_observations(session, profile, number, rng)
        treatments.append(session)
    return treatments


def _dose(profile: Profile, route: str, number: int) -> Decimal:
    if route == "lozenge":
        # Titrated up by 50 mg every two sessions from 150 mg to the patient's ceiling.
        return Decimal(min(150 + 50 * (number // 2), profile.lozenge_max_mg))
    # Intramuscular: 0.5 mg/kg at first, up to 0.75 mg/kg, rounded to 5 mg (35-75 mg here).
    per_kg = min(0.5 + 0.05 * number, 0.75)
    return Decimal(max(35, min(75, round(profile.weight_kg * per_kg / 5) * 5)))


def _add_observations(session: Treatment, profile: Profile, number: int, rng: random.Random) -> None:
    session.bp_systolic_before = rng.randint(112, 134)
    session.bp_diastolic_before = rng.randint(70, 84)
    session.bp_systolic_after = session.bp_systolic_before + rng.randint(6, 20)
    session.bp_diastolic_after = session.bp_diastolic_before + rng.randint(3, 10)
    if number == 0:
        session.notes = "First session. Consent reviewed; monitored for 2 hours."
    elif profile.switch_to_im_after == number:
        session.notes = "Switched to intramuscular after a partial response to lozenges."
    elif rng.random() < 0.2:
        session.notes = rng.choice(["Tolerated well.", "Mild dissociation, resolved within 60 minutes.",
                                    "Some nausea; ondansetron given."])


# --- Daily check-ins -----------------------------------------------------------------------

def _checkins(profile: Profile, patient: User, treatments: list[Treatment], now: datetime,
              rng: random.Random) -> list[CheckIn]:
    zone = ZoneInfo(patient.timezone)
    today = now.astimezone(zone).date()
    given = sorted(s.administered_at for s in treatments if s.administered_at <= now)
    severe_day = None
    if profile.kind == "severe side effect":
        severe_day = max(d for d in (at.astimezone(zone).date() for at in given) if d < today)
    weights = [w * rng.uniform(0.7, 1.3) for w in ITEM_WEIGHTS]
    checkins = []
    missed_in_a_row = 0
    for offset in range(HISTORY_DAYS - 1, -1, -1):
        day = today - timedelta(days=offset)
        if profile.kind == "lapsed" and offset < LAPSED_SILENT_DAYS:
            continue
        # Missed days, but never enough in a row to lapse (only the lapsed patient does), and never
        # yesterday; the first day is always there (the history visibly spans 90 days), as is the
        # day of the severe side effect.
        may_miss = missed_in_a_row < 2 and offset not in (1, HISTORY_DAYS - 1) and day != severe_day
        if may_miss and rng.random() > profile.adherence:
            missed_in_a_row += 1
            continue
        missed_in_a_row = 0
        submitted_at, late = _submitted_at(day, zone, now, rng)
        if submitted_at is None:
            continue  # not yet checked in today
        # Only sessions given by that day, and before the check-in was sent, shape its answers.
        earlier = [d for d in (at.astimezone(zone).date() for at in given if at <= submitted_at) if d <= day]
        since = (day - earlier[-1]).days if earlier else None
        level = _expected_total(profile, len(earlier), since)
        total = max(0, min(TOTAL_MAX, round(level + rng.gauss(0, 1.2))))
        checkin = CheckIn(patient_id=patient.id, local_date=day, total=total, submitted_at=submitted_at,
                          late_entry=late, source="web", **_split_total(total, weights, rng),
                          **_side_effects(since, rng), note=_note(since, profile, rng))
        if day == severe_day:
            checkin.se_nausea = 3  # "Contact your clinic today" and a flag on the dashboard
            checkin.note = "Threw up twice after the session and felt very unwell."
        checkins.append(checkin)
    return checkins


def _standard_gad7s(patient: User, checkins: list[CheckIn], *, weights: list[float],
                    rng: random.Random) -> list[StandardGad7]:
    """A standard GAD-7 with the first check-in (the baseline) and then on the first check-in
    day once GAD7_INTERVAL_DAYS have passed, as the app asks (SPEC 2.2). Its total follows the
    mean of the fortnight's daily totals, as two weeks' frequency would."""
    rows, last = [], None
    by_day = {c.local_date: c.total for c in checkins}
    for day in sorted(by_day):
        if last is not None and (day - last).days < GAD7_INTERVAL_DAYS:
            continue
        fortnight = [t for d, t in by_day.items() if day - timedelta(days=GAD7_INTERVAL_DAYS) < d <= day]
        total = max(0, min(TOTAL_MAX, round(sum(fortnight) / len(fortnight) + rng.gauss(0, 1.5))))
        submitted = next(c.submitted_at for c in checkins if c.local_date == day)
        rows.append(StandardGad7(patient_id=patient.id, local_date=day, total=total, source="web",
                                 submitted_at=submitted, difficulty=min(3, total // 6),
                                 **_split_total(total, weights, rng)))
        last = day
    return rows


def _expected_total(profile: Profile, treatments_so_far: int, since: int | None) -> float:
    """The model: level before sessions, minus the current session's effect on day `since`."""
    level = profile.baseline - profile.drift * min(1.0, treatments_so_far / 6)
    if since is None:
        return level
    if since == 0:
        effect = 0.35  # the check-in is in the evening, hours after a morning session
    elif since <= profile.lasts - 2:
        effect = 1.0 if since <= 2 else 0.95  # lowest 1-2 days after, holding for a while
    else:
        # Wearing off over about three days: well above the low point by day `lasts`.
        effect = {profile.lasts - 1: 0.7, profile.lasts: 0.4}.get(since, 0.2)
    return level - profile.gain * effect


def _split_total(total: int, weights: list[float], rng: random.Random) -> dict[str, int]:
    """Seven answers of 0-3 that add up to `total`, weighted towards the patient's usual items."""
    answers = [0] * len(ITEM_CODES)
    for _ in range(total):
        open_items = [i for i, value in enumerate(answers) if value < ITEM_MAX]
        item = rng.choices(open_items, weights=[weights[i] for i in open_items])[0]
        answers[item] += 1
    return dict(zip(ITEM_CODES, answers))


def _submitted_at(day: date, zone: ZoneInfo, now: datetime, rng: random.Random) -> tuple[datetime | None, bool]:
    """When the check-in for `day` was sent: that evening, now and then the next morning (a late
    entry), or, for today, earlier today for some patients."""
    if rng.random() < 0.04:
        next_morning = datetime.combine(day + timedelta(days=1), time(rng.randint(7, 11), rng.randrange(60)), zone)
        if next_morning <= now:
            return next_morning.astimezone(timezone.utc), True
    evening = datetime.combine(day, time(rng.randint(18, 22), rng.randrange(60)), zone)
    if evening <= now:
        return evening.astimezone(timezone.utc), False
    earlier_today = now - timedelta(minutes=rng.randint(10, 180))
    if earlier_today.astimezone(zone).date() == day and rng.random() < 0.5:
        return earlier_today, False
    return None, False


def _side_effects(since: int | None, rng: random.Random) -> dict[str, int | None]:
    """Mostly mild dissociation and nausea on session days; the section is often skipped otherwise."""
    if since == 0:
        values = {key: 0 for key in SIDE_EFFECT_KEYS}
        values["dissociation"] = rng.choice([0, 1, 1, 1, 2])
        values["nausea"] = rng.choice([0, 0, 1, 1])
        values["dizziness"] = rng.choice([0, 0, 0, 1])
        values["drowsiness"] = rng.choice([0, 0, 1])
    elif since == 1 and rng.random() < 0.6:
        values = {key: 0 for key in SIDE_EFFECT_KEYS}
        values["drowsiness"] = rng.choice([0, 0, 1])
        values["headache"] = rng.choice([0, 0, 0, 1])
    elif rng.random() < 0.25:
        values = {key: 0 for key in SIDE_EFFECT_KEYS}
        values["headache"] = rng.choice([0, 0, 0, 0, 1])
    else:
        return {}
    return {f"se_{key}": value for key, value in values.items()}


def _note(since: int | None, profile: Profile, rng: random.Random) -> str | None:
    if rng.random() > 0.04:
        return None
    if since == 0:
        return rng.choice(NOTES["session"])
    if since is not None and 1 <= since <= 3 and profile.gain >= 4:
        return rng.choice(NOTES["nadir"])
    if since is not None and since >= profile.lasts and profile.gain >= 4:
        return rng.choice(NOTES["waning"])
    return rng.choice(NOTES["any"])
