"""flask seed-demo: a demo clinic with 90 days of realistic history, only in an empty database."""
import statistics
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from monitor import demo
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.instruments import ITEM_CODES
from monitor.models import CheckIn, StandardGad7, Treatment, User
from monitor.passwords import verify_password
from monitor.timeutil import local_today, utcnow
from tests.factories import events


@pytest.fixture
def seeded(runner):
    result = runner.invoke(args=["seed-demo"])
    assert result.exit_code == 0, result.output
    return result


def patients() -> list[User]:
    return list(db.session.scalars(select(User).where(User.role == "patient").order_by(User.id)))


def totals_by_date(patient: User) -> dict:
    return {c.local_date: c.total for c in db.session.scalars(select(CheckIn).where(CheckIn.patient_id == patient.id))}


def treatment_dates(patient: User, *, given_only: bool = True) -> list:
    """Local dates of the patient's treatment sessions (already given, unless given_only=False)."""
    sessions = db.session.scalars(select(Treatment).where(Treatment.patient_id == patient.id))
    return sorted(s.administered_at.astimezone(_zone(patient)).date()
                  for s in sessions if not given_only or s.administered_at <= utcnow())


def _zone(patient: User) -> ZoneInfo:
    return ZoneInfo(patient.timezone)


def mean_on_days(totals: dict, session_day, days) -> float | None:
    values = [totals[session_day + timedelta(days=d)] for d in days if session_day + timedelta(days=d) in totals]
    return statistics.mean(values) if values else None


def mean_gain(patient: User) -> float:
    """Mean over sessions of how far days 1..3 fall below the reference level (SPEC 4: the larger
    of the three days before the session and the week before the first session)."""
    totals = totals_by_date(patient)
    dates = treatment_dates(patient)
    first_baseline = mean_on_days(totals, dates[0], range(-7, 0))
    gains = []
    for day in dates:
        before, after = mean_on_days(totals, day, (-3, -2, -1)), mean_on_days(totals, day, (1, 2, 3))
        if after is not None:
            gains.append(max(before or 0, first_baseline) - after)
    return statistics.mean(gains)


def share_of_sessions_waning(patient: User) -> float:
    """Share of sessions after which totals on days 5..9 (before the next session) climb back
    at least 3 points above those of days 1..3."""
    totals = totals_by_date(patient)
    dates = treatment_dates(patient)
    waned = []
    for day, next_day in zip(dates, dates[1:]):
        low = mean_on_days(totals, day, (1, 2, 3))
        later = mean_on_days(totals, day, [d for d in range(5, 10) if d < (next_day - day).days])
        if low is not None and later is not None:
            waned.append(later >= low + 3)
    return sum(waned) / len(waned)


def test_prints_the_logins_and_the_demo_password(seeded):
    assert demo.DEMO_PASSWORD in seeded.stdout
    for user in db.session.scalars(select(User)):
        assert user.email in seeded.stdout
        assert verify_password(user.password_hash, demo.DEMO_PASSWORD)
    assert "non-responder" in seeded.stdout and "lapsed" in seeded.stdout


def test_creates_the_clinic_staff_and_at_least_twelve_patients(seeded):
    roles = dict(db.session.execute(select(User.role, func.count()).group_by(User.role)).all())
    assert roles["admin"] == 1 and roles["provider"] == 2 and roles["patient"] >= 12
    clinic = get_clinic()
    assert clinic.name == "Demo Clinic" and clinic.phone
    panels = [{p.email for p in provider.panel} for provider in
              db.session.scalars(select(User).where(User.role == "provider"))]
    assert all(len(panel) >= 4 for panel in panels)
    assert len(panels[0] & panels[1]) == 1  # one patient on both panels
    assert all(patient.providers for patient in patients())
    assert len(events("demo.seeded")) == 1


def test_every_patient_has_ninety_days_of_checkins_ending_today(seeded):
    for patient in patients():
        today = local_today(patient.timezone)
        dates = totals_by_date(patient)
        assert min(dates) == today - timedelta(days=89)
        assert max(dates) <= today
        # Realistic adherence: most days logged, some missed.
        assert 60 <= len(dates) < 90


def test_checkin_answers_add_up_to_the_total_and_stay_in_range(seeded):
    for checkin in db.session.scalars(select(CheckIn)):
        answers = checkin.answers()
        assert all(0 <= answers[code] <= 3 for code in ITEM_CODES)
        assert sum(answers.values()) == checkin.total
        assert checkin.submitted_at <= utcnow()
        assert all(v is None or 0 <= v <= 3 for v in checkin.side_effects().values())


def test_baseline_before_the_first_session_is_moderate_to_severe(seeded):
    for patient in patients():
        first = treatment_dates(patient)[0]
        baseline = mean_on_days(totals_by_date(patient), first, range(-7, 0))
        assert 12 <= baseline <= 20, patient.email


def test_sessions_are_weekly_with_realistic_routes_and_doses(seeded):
    for patient in patients():
        dates = treatment_dates(patient)
        assert len(dates) >= 6, patient.email
        gaps = [(b - a).days for a, b in zip(dates, dates[1:])]
        # Six weekly sessions to start (now and then one a day late), then weekly or every 10-14
        # days, with at most a skipped week.
        assert 34 <= (dates[5] - dates[0]).days <= 36, (patient.email, gaps)
        assert all(6 <= gap <= 8 for gap in gaps[:5]), (patient.email, gaps)
        assert all(6 <= gap <= 15 for gap in gaps), (patient.email, gaps)
    sessions = list(db.session.scalars(select(Treatment)))
    assert {s.route for s in sessions} == {"lozenge", "intramuscular"}
    for session in sessions:
        low, high = (100, 300) if session.route == "lozenge" else (35, 75)
        assert low <= session.dose_mg <= high, (session.route, session.dose_mg)


def test_some_patients_have_a_planned_session(seeded):
    planned = {s.patient_id for s in db.session.scalars(select(Treatment)) if s.administered_at > utcnow()}
    assert 2 <= len(planned) < len(patients())


def test_most_patients_improve_after_sessions_and_one_does_not(seeded):
    gains = {patient.email: mean_gain(patient) for patient in patients()}
    responders = [email for email, gain in gains.items() if gain >= 4]
    non_responders = [email for email, gain in gains.items() if gain < 2]
    assert len(responders) == len(gains) - 1, gains
    assert len(non_responders) == 1, gains


def test_benefit_wanes_within_days_five_to_nine_for_most_patients(seeded):
    shares = {patient.email: share_of_sessions_waning(patient) for patient in patients()}
    assert sum(share >= 0.3 for share in shares.values()) >= len(shares) - 3, shares
    assert sum(share == 0 for share in shares.values()) >= 1  # the non-responder never improves


def test_one_patient_has_lapsed(seeded):
    lapsed = []
    for patient in patients():
        today = local_today(patient.timezone)
        if max(totals_by_date(patient)) < today - timedelta(days=2):
            lapsed.append(patient.email)
    assert len(lapsed) == 1


def test_side_effects_mostly_mild_on_session_days_with_a_recent_severe_one(seeded):
    checkins = list(db.session.scalars(select(CheckIn)))
    answered = [c for c in checkins if c.se_dissociation is not None]
    assert answered and sum(c.se_dissociation in (1, 2) for c in answered) >= len(patients()) * 3
    severe = [c for c in checkins if c.has_severe_side_effect]
    assert severe
    assert max(c.local_date for c in severe) >= local_today("America/New_York") - timedelta(days=7)
    assert sum(c.note is not None for c in checkins) >= 5


def test_refuses_a_database_with_accounts_and_changes_nothing(runner, users):
    before = db.session.scalar(select(func.count()).select_from(User))

    result = runner.invoke(args=["seed-demo"])

    assert result.exit_code == 1
    assert "already has accounts" in result.stderr
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(User)) == before
    assert db.session.scalar(select(func.count()).select_from(CheckIn)) == 0
    assert db.session.scalar(select(func.count()).select_from(Treatment)) == 0
    assert get_clinic().name != demo.CLINIC_NAME


def test_the_cached_clinic_median_is_the_report_cohorts_median(seeded):
    """The dashboard's fallback (stored_analysis.clinic_median_duration, from the stored
    analyses) and the cohort computed afresh from every history are one number on a whole
    clinic."""
    from monitor import analysis, durability, stored_analysis
    settings = analysis.settings_for(get_clinic())
    fresh = analysis.load(patients(), settings=settings)
    expected = durability.cohort((d.totals, d.analysis) for d in fresh.values()).median_duration
    assert expected is not None
    assert stored_analysis.clinic_median_duration(settings) == expected


def test_standard_gad7s_every_fortnight_from_the_first_checkin_following_the_daily_totals(seeded):
    """SPEC 2.2 in the demo: the baseline with each patient's first check-in, then the first
    check-in day once 14 days have passed; answers add up, the total near the fortnight's
    daily mean, so a provider sees the diamonds and the change from the first."""
    for patient in db.session.scalars(select(User).where(User.role == "patient")):
        days = {c.local_date: c.total for c in db.session.scalars(select(CheckIn).where(CheckIn.patient_id == patient.id))}
        rows = db.session.scalars(select(StandardGad7).where(StandardGad7.patient_id == patient.id)
                                  .order_by(StandardGad7.local_date)).all()
        assert rows and rows[0].local_date == min(days)
        for earlier, later in zip(rows, rows[1:]):
            gap = (later.local_date - earlier.local_date).days
            assert gap >= 14 and all(d not in days for d in
                                     (earlier.local_date + timedelta(days=n) for n in range(14, gap)))
        for row in rows:
            assert row.total == sum(row.answers().values()) and row.local_date in days
            fortnight = [t for d, t in days.items() if row.local_date - timedelta(days=14) < d <= row.local_date]
            assert abs(row.total - statistics.mean(fortnight)) <= 6
