"""The bridge from the database to SPEC 4: local dates in the patient's zone, clinic settings,
a fixed number of queries."""
from datetime import date, datetime, timezone

from sqlalchemy import select

from monitor import analysis, timeutil
from monitor.clinic import get_clinic
from monitor.durability import HOLDING, WANED
from monitor.extensions import db
from monitor.models import User
from tests.factories import add_checkins, add_patient, add_treatment, counted_queries, day


def worked_example(patient, d0):
    add_checkins(patient, {day(n, d0): t for n, t in [(-3, 15), (-2, 16), (-1, 14), (1, 6), (2, 5), (3, 7), (4, 8),
                                                      (5, 9), (6, 11)]})


def test_sessions_are_dated_in_the_patients_zone_across_a_dst_change(app, users):
    # 8 March 2026 03:30 UTC is 7 March 22:30 in New York (the night DST starts) but 8 March in London.
    timeutil.freeze(datetime(2026, 3, 20, 15, tzinfo=timezone.utc))
    ny, london = users.patient_a, users.patient_b
    for p in (ny, london):
        add_treatment(p, datetime(2026, 3, 8, 3, 30, tzinfo=timezone.utc), dose="100")
    data = analysis.load([ny, london])
    assert data[ny.id].analysis.treatments[0].treatment_date == date(2026, 3, 7)
    assert data[london.id].analysis.treatments[0].treatment_date == date(2026, 3, 8)


def test_several_sessions_on_one_local_date_are_one_and_the_first_is_shown(app, users):
    timeutil.freeze(datetime(2026, 11, 26, 15, tzinfo=timezone.utc))
    p = users.patient_a
    add_treatment(p, datetime(2026, 11, 20, 15, tzinfo=timezone.utc), route="intramuscular", dose="100")
    add_treatment(p, datetime(2026, 11, 20, 20, tzinfo=timezone.utc), route="lozenge", dose="100")
    data = analysis.load_one(p)
    assert len(data.analysis.treatments) == 1
    assert data.first_treatment_on()[date(2026, 11, 20)].route == "intramuscular"


def test_worked_example_through_the_database_and_clinic_settings(app, users):
    timeutil.freeze(datetime(2026, 11, 26, 15, tzinfo=timezone.utc))
    p = users.patient_a
    d0 = date(2026, 11, 19)
    worked_example(p, d0)
    add_treatment(p, datetime(2026, 11, 19, 16, tzinfo=timezone.utc), dose="100")
    s = analysis.load_one(p).analysis.treatments[0]
    assert (s.reference, s.nadir, s.gain, s.threshold, s.wane_day, s.status) == (15, 5, 10, 9, 5, WANED)
    clinic = get_clinic()
    clinic.confirm_days = 3
    clinic.mcid = 6
    db.session.commit()
    s = analysis.load_one(p).analysis.treatments[0]
    # T = 5 + min(6, 5) = 10; only day 6 (11) reaches it: no three confirming days.
    assert (s.threshold, s.status) == (10, HOLDING)


def test_load_runs_two_queries_whatever_the_number_of_patients(app, users):
    timeutil.freeze(datetime(2026, 11, 26, 15, tzinfo=timezone.utc))
    patients = [add_patient(f"p{i}@example.test") for i in range(12)]
    for p in patients:
        worked_example(p, date(2026, 11, 19))
        add_treatment(p, datetime(2026, 11, 19, 16, tzinfo=timezone.utc), dose="100")
    settings = analysis.settings_for(get_clinic())
    # Loaded in one query, as a page would, so that no expired row is refreshed one by one.
    patients = db.session.scalars(select(User).where(User.id.in_([p.id for p in patients]))).all()

    def count(ps):
        with counted_queries() as statements:
            analysis.load(ps, settings=settings)
        return len(statements)

    assert count(patients[:2]) == count(patients) == 2
