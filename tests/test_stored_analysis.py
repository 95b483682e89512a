"""The stored durability analysis (monitor/stored_analysis.py) always equals a fresh computation:
random sequences of writes and clock moves, compared after every step with
durability.analyse_patient run from scratch. Runs on SQLite, and on PostgreSQL in CI."""
import dataclasses
import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor import analysis, durability, stored_analysis, timeutil
from monitor.checkins import save_checkin
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import PatientAnalysisRow, Role, Treatment, User
from monitor.timeutil import local_today
from monitor.treatments import TreatmentValues, record_treatment, update_treatment
from tests.factories import NOW, add_patient, answers_for, at_local

ZONES = ["America/New_York", "Europe/London", "Asia/Tokyo", "Pacific/Honolulu", "Pacific/Auckland"]
PATIENTS_PER_EXAMPLE = 2
_emails = itertools.count()

patient_index = st.integers(0, PATIENTS_PER_EXAMPLE - 1)
STEPS = st.lists(st.one_of(
    st.tuples(st.just("checkin"), patient_index, st.integers(-3, 0), st.integers(0, 21)),
    st.tuples(st.just("treatment"), patient_index, st.integers(-6, 4), st.integers(6, 20)),
    st.tuples(st.just("move treatment"), patient_index, st.integers(-3, 3)),
    st.tuples(st.just("zone"), patient_index, st.sampled_from(ZONES)),
    st.tuples(st.just("settings"), st.sampled_from([2, 4, 6]), st.sampled_from([1, 2, 3])),
    st.tuples(st.just("time"), st.integers(1, 120)),
), min_size=1, max_size=14)


def fresh(patients, now):
    """What a page must show: the analysis computed from scratch from the stored history."""
    found = analysis.load(patients, now=now)
    return {patient_id: item.analysis for patient_id, item in found.items()}


def apply(step, patients, clock):
    kind = step[0]
    if kind == "checkin":
        _, n, offset, total = step
        patient = patients[n]
        day = local_today(patient.timezone, clock) + timedelta(days=offset)
        # Dated as the phone would send it: on that day's evening (an earlier date is a late entry).
        save_checkin(patient, day, answers_for(total), {}, None, now=clock)
    elif kind == "treatment":
        _, n, offset, hour = step
        patient = patients[n]
        day = local_today(patient.timezone, clock) + timedelta(days=offset)
        values = TreatmentValues(administered_at=at_local(day, hour, zone=patient.timezone), route="lozenge",
                                 dose_mg=50)
        record_treatment(patient, values, recorded_by=None, now=clock)
    elif kind == "move treatment":
        _, n, days = step
        treatment = db.session.scalar(select(Treatment).where(Treatment.patient_id == patients[n].id)
                                      .order_by(Treatment.id.desc()).limit(1))
        if treatment is not None:
            values = TreatmentValues.of(treatment)
            values.administered_at += timedelta(days=days)
            update_treatment(treatment, values, edited_by=None, now=clock)
    elif kind == "zone":
        _, n, zone = step
        patients[n].change_timezone(zone, clock)
    elif kind == "settings":
        _, mcid, confirm_days = step
        clinic = get_clinic()
        clinic.mcid, clinic.confirm_days = mcid, confirm_days
    elif kind == "time":
        clock += timedelta(hours=step[1])
        timeutil.freeze(clock)
    db.session.commit()
    return clock


# Each patient starts with three weeks of daily totals and a session in the middle that worked
# (high before it, low after), so that the steps change real results: a wane, a new interval,
# a typical duration.
HISTORY = st.tuples(st.lists(st.integers(12, 21), min_size=9, max_size=9),
                    st.lists(st.integers(0, 8), min_size=12, max_size=12)).map(lambda parts: parts[0] + parts[1])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=STEPS, zones=st.lists(st.sampled_from(ZONES), min_size=PATIENTS_PER_EXAMPLE,
                                   max_size=PATIENTS_PER_EXAMPLE),
       histories=st.lists(HISTORY, min_size=PATIENTS_PER_EXAMPLE, max_size=PATIENTS_PER_EXAMPLE))
def test_the_stored_analysis_always_equals_a_fresh_computation(app, steps, zones, histories):
    clock = NOW
    timeutil.freeze(clock)
    patients = [add_patient(f"stored{next(_emails)}@example.test", timezone=zone) for zone in zones]
    for n, totals in enumerate(histories):
        for offset, total in enumerate(totals, start=-21):
            apply(("checkin", n, offset, total), patients, clock)
        apply(("treatment", n, -12, 10), patients, clock)
    try:
        for step in steps:
            clock = apply(step, patients, clock)
            settings_now = analysis.settings_for(get_clinic())
            # What a page reads (stale rows recomputed on the way) is what a fresh computation gives...
            assert stored_analysis.for_patients(patients, now=clock, settings=settings_now) == fresh(patients, clock), step
            everyone = db.session.scalars(select(User).where(User.role == Role.PATIENT.value)).all()
            assert stored_analysis.clinic_median_duration(settings_now, clock) == durability.cohort_median(
                fresh(everyone, clock).values()), step
            db.session.commit()
    finally:
        timeutil.freeze(NOW)


def test_a_write_refreshes_the_stored_rows_in_its_own_transaction(app, users):
    """Writes keep the rows current themselves: after a check-in nothing is stale on read."""
    patient = users.patient_a
    save_checkin(patient, NOW.date(), answers_for(12), {}, None, now=NOW)
    db.session.commit()
    row = db.session.get(PatientAnalysisRow, patient.id)
    assert (row.computed_on, row.timezone) == (local_today(patient.timezone, NOW), patient.timezone)
    assert row.settings_key == stored_analysis.settings_key(analysis.settings_for(get_clinic()))


def test_a_planned_treatment_dates_the_analysis_validity(app, users):
    """Time alone changes the analysis when a planned treatment's local date arrives."""
    patient = users.patient_a
    today = local_today(patient.timezone, NOW)
    record_treatment(patient, TreatmentValues(administered_at=at_local(today + timedelta(days=3)), route="lozenge",
                                              dose_mg=50), recorded_by=None, now=NOW)
    db.session.commit()
    assert db.session.get(PatientAnalysisRow, patient.id).valid_until == today + timedelta(days=3)


def test_settings_are_part_of_what_the_stored_analysis_was_computed_for():
    base = durability.Settings()
    assert stored_analysis.settings_key(base) != stored_analysis.settings_key(dataclasses.replace(base, mcid=5))


# --- The dashboard reads a window of each history, not all of it.

CHECKIN_DAYS = st.lists(st.tuples(st.integers(-200, 0), st.integers(0, 21)), max_size=25)
TREATMENT_DAYS = st.lists(st.integers(-200, 10), max_size=6)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(checkins=CHECKIN_DAYS, treatments=TREATMENT_DAYS, zone=st.sampled_from(ZONES))
def test_the_dashboard_rows_from_its_window_equal_rows_from_the_whole_history(app, checkins, treatments, zone):
    """The latest check-in, the days before it, missed days, adherence, the trend line and the
    days since the last session come out the same from the dashboard's window of each history
    as from all of it."""
    from monitor import dashboard
    patient = add_patient(f"window{next(_emails)}@example.test", timezone=zone)
    today = local_today(zone, NOW)
    for offset, total in dict(checkins).items():
        save_checkin(patient, today + timedelta(days=offset), answers_for(total), {}, None, now=NOW)
    for offset in treatments:
        record_treatment(patient, TreatmentValues(administered_at=at_local(today + timedelta(days=offset), 10, zone=zone),
                                                  route="lozenge", dose_mg=50), recorded_by=None, now=NOW)
    db.session.commit()
    settings_now = analysis.settings_for(get_clinic())
    window = dashboard._recent([patient], NOW, settings_now)[patient.id]
    whole = analysis.load([patient], now=NOW, settings=settings_now)[patient.id]
    window.analysis = whole.analysis
    assert dashboard.build_row(window, now=NOW, mcid=4, lapse_days=3, cohort_median=5) == \
        dashboard.build_row(whole, now=NOW, mcid=4, lapse_days=3, cohort_median=5)


def test_a_read_after_a_write_in_the_same_transaction_sees_the_write(app, users):
    """Rows loaded before a refresh are read again, not taken from the session's identity map."""
    patient = users.patient_a
    today = local_today(patient.timezone, NOW)
    for offset, total in enumerate([15] * 4 + [5] * 6, start=-10):
        save_checkin(patient, today + timedelta(days=offset), answers_for(total), {}, None, now=NOW)
    record_treatment(patient, TreatmentValues(administered_at=at_local(today - timedelta(days=6)), route="lozenge",
                                              dose_mg=50), recorded_by=None, now=NOW)
    before = stored_analysis.for_patients([patient], now=NOW)[patient.id]
    assert before.latest.status == durability.HOLDING
    for offset in (-2, -1):  # back above the threshold on two days: waned
        save_checkin(patient, today + timedelta(days=offset), answers_for(15), {}, None, now=NOW)
    after = stored_analysis.for_patients([patient], now=NOW)[patient.id]
    assert after == fresh([patient], NOW)[patient.id]
    assert after.latest.status == durability.WANED
