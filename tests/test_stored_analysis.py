"""The stored durability analysis (monitor/stored_analysis.py) always equals a fresh computation:
random sequences of writes and clock moves, compared after every step with
durability.analyse_patient run from scratch. Runs on SQLite, and on PostgreSQL in CI."""
import dataclasses
import itertools
import math
from datetime import date, timedelta

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from monitor import analysis, dashboard, durability, patient_status, stored_analysis, timeutil
from monitor.checkins import save_checkin
from monitor.clinic import get_clinic
from monitor.extensions import db
from monitor.models import PatientAnalysisRow, Role, Treatment, User
from monitor.timeutil import local_today
from monitor.treatments import TreatmentValues, record_treatment, update_treatment
from tests.factories import NOW, add_patient, add_provider, add_treatment, answers_for, at_local

ZONES = ["America/New_York", "Europe/London", "Asia/Tokyo", "Pacific/Honolulu", "Pacific/Auckland"]
PATIENTS_PER_EXAMPLE = 2
_emails = itertools.count()

patient_index = st.integers(0, PATIENTS_PER_EXAMPLE - 1)
STEP = st.one_of(
    st.tuples(st.just("checkin"), patient_index, st.integers(-3, 0), st.integers(0, 21)),
    st.tuples(st.just("treatment"), patient_index, st.integers(-6, 4), st.integers(6, 20)),
    st.tuples(st.just("move treatment"), patient_index, st.integers(-3, 3)),
    st.tuples(st.just("zone"), patient_index, st.sampled_from(ZONES)),
    st.tuples(st.just("settings"), st.sampled_from([2, 4, 6]), st.sampled_from([1, 2, 3])),
    st.tuples(st.just("time"), st.integers(1, 120)),
)
STEPS = st.lists(STEP, min_size=1, max_size=14)


def fresh(patients, now):
    """What a page must show: the analysis computed from scratch from the stored history."""
    found = analysis.load(patients, now=now)
    return {patient_id: item.analysis for patient_id, item in found.items()}


def apply(step, patients, clock, provider=None):
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
    elif kind == "status":
        _, n, status = step
        patient_status.change(patients[n], status, actor=provider)
    elif kind == "care team":  # on the provider's panel, or off it
        patient = patients[step[1]]
        if provider in patient.providers:
            patient.providers.remove(provider)
        else:
            patient.providers.append(provider)
    elif kind == "name":
        patients[step[1]].last_name = step[2]
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


DASHBOARD_STEPS = st.lists(st.one_of(
    STEP,
    st.tuples(st.just("status"), patient_index, st.sampled_from(["active", "paused", "discharged"])),
    st.tuples(st.just("care team"), patient_index),
    st.tuples(st.just("name"), patient_index, st.sampled_from(["Adams", "Zhou"])),
), min_size=1, max_size=14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=DASHBOARD_STEPS, zones=st.lists(st.sampled_from(ZONES), min_size=PATIENTS_PER_EXAMPLE,
                                             max_size=PATIENTS_PER_EXAMPLE),
       histories=st.lists(HISTORY, min_size=PATIENTS_PER_EXAMPLE, max_size=PATIENTS_PER_EXAMPLE))
# A session planned for 14:00 today arrives at 15:00 (NOW is 10:00 in New York): the local date
# stays the same, "days since session" does not.
@example(steps=[("treatment", 0, 0, 14), ("time", 5)], zones=["America/New_York"] * 2,
         histories=[[15] * 9 + [3] * 12] * 2)
# 19:00 comes (the default reminder time) on the same date: today's check-in turns "late".
@example(steps=[("time", 10)], zones=["America/New_York"] * 2, histories=[[15] * 9 + [3] * 12] * 2)
def test_the_dashboard_a_worker_keeps_always_equals_a_fresh_one(app, steps, zones, histories):
    """The panel a worker keeps between views (write_version.Cache) gives, after any sequence of
    writes and clock moves, the dashboard a view reading everything afresh gives."""
    clock = NOW
    timeutil.freeze(clock)
    provider = add_provider(f"keeper{next(_emails)}@example.test")
    patients = [add_patient(f"kept{next(_emails)}@example.test", timezone=zone, providers=[provider])
                for zone in zones]
    for n, totals in enumerate(histories):
        for offset, total in enumerate(totals, start=-21):
            apply(("checkin", n, offset, total), patients, clock)
        apply(("treatment", n, -12, 10), patients, clock)
    kept_panels = dashboard.panels()
    try:
        dashboard.build(provider, now=clock)  # kept from here on, unless a step changes what it read
        db.session.commit()
        for step in steps:
            clock = apply(step, patients, clock, provider)
            kept = dashboard.build(provider, now=clock)
            db.session.commit()  # as the page's audit does: what it refreshed is stored
            app.extensions["dashboard.panels"] = type(kept_panels)()  # nothing kept: read afresh
            fresh = dashboard.build(provider, now=clock)
            db.session.commit()
            app.extensions["dashboard.panels"] = kept_panels
            assert kept == fresh, step
    finally:
        app.extensions["dashboard.panels"] = kept_panels
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
@given(checkins=CHECKIN_DAYS, treatments=TREATMENT_DAYS, zone=st.sampled_from(ZONES),
       severe_days=st.sets(st.integers(-12, 0), max_size=3))
# Back today after weeks away: missed days count from the check-in before the window.
@example(checkins=[(-40, 9), (0, 12)], treatments=[], zone="America/New_York", severe_days=set())
# Nothing in the window: the latest check-in and the days before it come from further back.
@example(checkins=[(-44, 3), (-42, 9), (-41, 12)], treatments=[-60], zone="Asia/Tokyo", severe_days=set())
def test_the_dashboard_rows_from_its_window_equal_rows_from_the_whole_history(app, checkins, treatments, zone,
                                                                             severe_days):
    """The latest check-in, the days before it, missed days, adherence, severe side effects,
    the trend line and the days since the last session come out the same from the dashboard's
    window of each history as from all of it."""
    from monitor import dashboard
    patient = add_patient(f"window{next(_emails)}@example.test", timezone=zone)
    today = local_today(zone, NOW)
    for offset, total in dict(checkins).items():
        side_effects = {"nausea": 3} if offset in severe_days else {"nausea": 2}
        save_checkin(patient, today + timedelta(days=offset), answers_for(total), side_effects, None, now=NOW)
    for offset in treatments:
        record_treatment(patient, TreatmentValues(administered_at=at_local(today + timedelta(days=offset), 10, zone=zone),
                                                  route="lozenge", dose_mg=50), recorded_by=None, now=NOW)
    db.session.commit()
    settings_now = analysis.settings_for(get_clinic())
    recent = dashboard._recent([patient], NOW)
    window = dashboard._with_trend_days(recent, [patient.id])[patient.id]  # as for the rows on the page
    whole = analysis.load([patient], now=NOW, settings=settings_now, with_checkins=True)[patient.id]
    window.analysis = whole.analysis
    severe_in_whole = [c.local_date for c in whole.checkins if c.se_nausea == 3]
    assert dashboard.build_row(window, now=NOW, mcid=4, lapse_days=3, cohort_median=5,
                               severe_side_effect_dates=recent.severe_side_effects.get(patient.id, ())) == \
        dashboard.build_row(whole, now=NOW, mcid=4, lapse_days=3, cohort_median=5,
                            severe_side_effect_dates=severe_in_whole)


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


# --- The clinic report reads stored summaries and a window of check-ins, not every history.

def fresh_report(viewer, now):
    """The report as the definitions give it from every patient's whole history (what
    report.build did before the summaries were stored)."""
    from monitor import report, schedule
    from monitor.access import patients_visible_to
    from monitor.models import PatientStatus
    from monitor.timeutil import to_local
    clinic = get_clinic()
    settings_now = analysis.settings_for(clinic)
    patients = db.session.scalars(patients_visible_to(viewer)).all()
    data = analysis.load(patients, now=now, settings=settings_now)
    treatments = [s for item in data.values() for s in item.analysis.treatments]
    pairs = durability.durations(treatments)
    cohort = durability.cohort((item.totals, item.analysis) for item in data.values())
    active = [p for p in patients if p.status == PatientStatus.ACTIVE.value]
    resumed = analysis.returns_to_active([p.id for p in active])
    windows = {days: [] for days in report.ADHERENCE_WINDOWS}
    lapsed = 0
    for p in active:
        item = data[p.id]
        start = report.start_date(to_local(p.created_at, p.timezone).date(), item.totals)
        for days in report.ADHERENCE_WINDOWS:
            share = report.Share(*schedule.adherence(item.totals, item.today, days, start=start))
            if share.of:
                windows[days].append(share.value)
        first_day = schedule.counting_from(p.timezone, p.created_at, resumed.get(p.id))
        lapsed += schedule.is_lapsed(item.totals, item.today, clinic.lapse_days, first_day=first_day)
    side_rows = [{key: getattr(c, f"se_{key}") for key, _ in report.SIDE_EFFECTS}
                 for item in analysis.load(patients, now=now, settings=settings_now, with_checkins=True).values()
                 for c in item.checkins
                 if item.today - timedelta(days=report.SIDE_EFFECT_DAYS - 1) <= c.local_date <= item.today]
    return dict(
        cohort_curve=cohort.curve, median=cohort.median_duration, treatments=cohort.treatments,
        responding=cohort.responding, change_by_day=cohort.change_by_day,
        censored=sorted({t for t, event in pairs if not event}), response=report.response_share(treatments),
        waned_by_7_count=report.waned_by_count(treatments),
        durations=sorted((p.id, len(data[p.id].analysis.treatments), data[p.id].analysis.responding_treatments,
                          data[p.id].analysis.median_duration) for p in patients if data[p.id].analysis.treatments),
        adherence=[(days, math.fsum(v) / len(v) if v else None, len(v)) for days, v in windows.items()],
        lapsed=lapsed, side_effects=report.side_effect_rates(side_rows), side_effect_checkins=len(side_rows),
        three_treatments=report.three_treatments(((item.totals, item.analysis) for item in data.values()),
                                                 settings_now.mcid),
        events=sum(1 for _, event in pairs if event), at_risk=len(pairs))


def stored_report(viewer, now):
    from monitor import report
    built = report.build(viewer, now)
    return dict(
        cohort_curve=built.cohort.curve, median=built.cohort.median_duration, treatments=built.cohort.treatments,
        responding=built.cohort.responding, change_by_day=built.cohort.change_by_day, censored=built.censored,
        response=built.response, waned_by_7_count=built.waned_by_7_count,
        durations=sorted((row.patient.id, row.treatments, row.responding, row.median_duration) for row in built.durations),
        adherence=[(a.days, a.mean, a.patients) for a in built.adherence], lapsed=built.lapsed,
        side_effects=built.side_effects, side_effect_checkins=built.side_effect_checkins,
        three_treatments=built.three_treatments, events=built.events, at_risk=built.at_risk)


def assert_same_report(stored, fresh, context=None):
    """Equal, except that the by-day means add up per patient first: equal to within float
    rounding (the page shows one decimal)."""
    import pytest
    for day_stored, day_fresh in zip(stored.pop("change_by_day"), fresh.pop("change_by_day"), strict=True):
        assert (day_stored.day, day_stored.n) == (day_fresh.day, day_fresh.n), context
        for name in ("mean", "ci_low", "ci_high"):
            a, b = getattr(day_stored, name), getattr(day_fresh, name)
            assert (a is None) == (b is None) and (a is None or a == pytest.approx(b, rel=1e-9, abs=1e-9)), context
    assert stored == fresh, context


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=DASHBOARD_STEPS, zones=st.lists(st.sampled_from(ZONES), min_size=PATIENTS_PER_EXAMPLE,
                                             max_size=PATIENTS_PER_EXAMPLE),
       histories=st.lists(HISTORY, min_size=PATIENTS_PER_EXAMPLE, max_size=PATIENTS_PER_EXAMPLE))
def test_the_report_from_stored_summaries_always_equals_one_from_every_history(app, steps, zones, histories):
    """Random writes and clock moves: after each, the report equals the one computed from every
    patient's whole history (the durations, the cohort by day, three treatments, adherence...).
    The report a worker keeps between views (write_version.Cache) included: every step's report
    after the first comes from it unless the step changed what it read."""
    from tests.factories import add_admin
    clock = NOW
    timeutil.freeze(clock)
    admin = add_admin(f"admin{next(_emails)}@example.test")
    patients = [add_patient(f"report{next(_emails)}@example.test", timezone=zone) for zone in zones]
    for n, totals in enumerate(histories):
        for offset, total in enumerate(totals, start=-21):
            apply(("checkin", n, offset, total), patients, clock)
        apply(("treatment", n, -12, 10), patients, clock)
        apply(("treatment", n, -5, 10), patients, clock)
    try:
        for step in steps:
            clock = apply(step, patients, clock, admin)
            assert_same_report(stored_report(admin, clock), fresh_report(admin, clock), step)
            db.session.commit()
    finally:
        timeutil.freeze(NOW)


SIDE_EFFECT_LEVELS = st.dictionaries(st.sampled_from(["headache", "nausea", "dizziness", "dissociation"]),
                                     st.integers(0, 3), max_size=2)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(checkins=st.lists(st.tuples(st.integers(-120, 0), st.integers(0, 21), SIDE_EFFECT_LEVELS), max_size=20),
       treatments=TREATMENT_DAYS, zone=st.sampled_from(ZONES), enrolled=st.integers(-150, 0),
       status=st.sampled_from(["active", "active", "paused"]))
def test_the_report_window_gives_what_every_history_gives(app, checkins, treatments, zone, enrolled, status):
    """Adherence, lapses and side effects read 31 days (and the latest check-in before them):
    patients enrolled inside or before that window, with check-ins long before it, or none."""
    from tests.factories import add_admin
    admin = add_admin(f"admin{next(_emails)}@example.test")
    patient = add_patient(f"rwindow{next(_emails)}@example.test", timezone=zone,
                          created_at=NOW + timedelta(days=enrolled), status=status)
    today = local_today(zone, NOW)
    for offset, (total, side_effects) in {o: (t, s) for o, t, s in checkins}.items():
        save_checkin(patient, today + timedelta(days=offset), answers_for(total), side_effects, None, now=NOW)
    for offset in treatments:
        record_treatment(patient, TreatmentValues(administered_at=at_local(today + timedelta(days=offset), 10, zone=zone),
                                                  route="lozenge", dose_mg=50), recorded_by=None, now=NOW)
    db.session.commit()
    assert_same_report(stored_report(admin, NOW), fresh_report(admin, NOW))


# --- A change of the clinic's settings: everyone recomputed in batches, pages say so meanwhile.

def _history(patient):
    from tests.factories import add_checkins, add_treatment, enrolled_long_ago
    enrolled_long_ago(patient)
    add_checkins(patient, {-25: 15, -24: 16, -23: 14, -21: 6, -20: 5, -19: 7, -18: 8, -17: 9, -16: 11})
    add_treatment(patient, at_local(NOW.date() - timedelta(days=22)))


def _change_mcid(mcid):
    get_clinic().mcid = mcid
    db.session.commit()


def test_while_too_many_are_stale_pages_say_the_figures_are_being_updated(app, users, monkeypatch):
    from tests.factories import login
    monkeypatch.setattr(stored_analysis, "INLINE_REFRESH_MAX", 1)
    for patient in (users.patient_a, users.patient_b):
        _history(patient)
    client = app.test_client()
    login(client, users.admin)
    assert client.get("/report").status_code == 200
    _change_mcid(5)
    assert stored_analysis.updating()
    response = client.get("/report")
    assert response.status_code == 503 and response.headers["Retry-After"] == "30"
    assert "figures are being worked out again" in response.get_data(as_text=True)
    page = client.get("/patients").get_data(as_text=True)
    assert "every patient's figures are being" in page and "Wane expected” uses each patient's own" in page
    # The dashboard's own rows are still what a fresh computation gives (computed, not stored).
    assert stored_analysis.for_patients([users.patient_a], now=NOW) == fresh([users.patient_a], NOW)

    # One patient is few enough for a read to recompute (and store) itself; the other is left.
    assert stored_analysis.refresh_stale(batch=1, commit=db.session.commit) == 1
    assert not stored_analysis.updating()
    assert client.get("/report").status_code == 200
    assert "being worked out again" not in client.get("/patients").get_data(as_text=True)


def test_the_refresh_analysis_command_brings_everyone_up_to_date(app, users, runner):
    for patient in (users.patient_a, users.patient_b):
        _history(patient)
    _change_mcid(6)
    result = runner.invoke(args=["refresh-analysis"])
    assert result.exit_code == 0 and "2 patients' analyses brought up to date." in result.output
    assert stored_analysis.stale_patient_ids(analysis.settings_for(get_clinic()), NOW) == []
    assert runner.invoke(args=["refresh-analysis"]).output.startswith("0 patients")


def test_the_settings_page_starts_the_refresh_in_the_background(app, users):
    from tests.factories import login
    _history(users.patient_a)
    app.config["ANALYSIS_REFRESH_IN_BACKGROUND"] = True
    started = []
    original = stored_analysis.refresh_in_background

    def watched(the_app):
        started.append(original(the_app))
        return started[-1]

    stored_analysis.refresh_in_background = watched
    try:
        client = app.test_client()
        login(client, users.admin)
        from tests.test_admin_clinic import SETTINGS
        response = client.post("/admin/clinic", data={**SETTINGS, "mcid": "6"})
        assert response.status_code == 303
        [thread] = started
        thread.join(timeout=60)
        assert not thread.is_alive()
    finally:
        stored_analysis.refresh_in_background = original
    db.session.rollback()
    assert not stored_analysis.updating()
    assert stored_analysis.for_patients([users.patient_a], now=NOW) == fresh([users.patient_a], NOW)


def test_the_clinic_counts_rebuild_themselves_if_a_row_goes_missing(app, users, caplog):
    from monitor.models import ClinicDurationCount
    for patient in (users.patient_a, users.patient_b):
        _history(patient)
    settings_now = analysis.settings_for(get_clinic())
    expected = stored_analysis.clinic_median_duration(settings_now, NOW)
    db.session.execute(ClinicDurationCount.__table__.delete().where(ClinicDurationCount.waned.is_(True)))
    db.session.commit()
    assert stored_analysis.clinic_median_duration(settings_now, NOW) == expected == 5
    assert "clinic duration counts out of step" in caplog.text


def ten_weekly_sessions(patient) -> date:
    """Ten weeks of daily check-ins and a session every week that works (high before it, low
    after); the patient's local today."""
    today = local_today(patient.timezone, NOW)
    for offset in range(-70, 0):
        save_checkin(patient, today + timedelta(days=offset), answers_for(15 if offset % 7 in (5, 6) else 4), {}, None,
                     now=NOW)
    for offset in range(-63, 0, 7):
        record_treatment(patient, TreatmentValues(administered_at=at_local(today + timedelta(days=offset)),
                                                  route="lozenge", dose_mg=50), recorded_by=None, now=NOW)
    db.session.commit()
    return today


def test_a_checkin_rewrites_only_the_session_results_it_changes(app, users):
    """A year's 52 session results are not rewritten by each evening check-in: only those whose
    values change (here the latest), so SQLite's one write lock is held briefly."""
    from sqlalchemy import event
    patient = users.patient_a
    today = ten_weekly_sessions(patient)
    written = []

    def count(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith(("INSERT INTO TREATMENT_RESULTS", "DELETE FROM TREATMENT_RESULTS")):
            written.append(cursor.rowcount)  # rows deleted or inserted

    event.listen(db.engine, "after_cursor_execute", count)
    try:
        save_checkin(patient, today, answers_for(16), {}, None, now=NOW)
    finally:
        event.remove(db.engine, "after_cursor_execute", count)
    db.session.commit()
    assert sum(written) == 2  # the latest result deleted and written anew; the 8 before it untouched
    assert stored_analysis.for_patients([patient], now=NOW) == fresh([patient], NOW)


def test_a_summary_row_loaded_before_a_checkin_shows_what_the_checkin_wrote(app, users):
    """A check-in writes the summary row with a plain UPDATE (no search of the session for
    loaded copies): a copy loaded earlier in the same transaction is read again, not kept."""
    patient = users.patient_a
    today = ten_weekly_sessions(patient)
    loaded = db.session.get(PatientAnalysisRow, patient.id)
    version = loaded.version
    save_checkin(patient, today, answers_for(16), {}, None, now=NOW)
    stored = db.session.execute(select(PatientAnalysisRow.__table__)
                                .where(PatientAnalysisRow.patient_id == patient.id)).one()
    assert stored.version != version
    assert (loaded.version, loaded.judged_treatments, loaded.waned_by_day_7) == (
        stored.version, stored.judged_treatments, stored.waned_by_day_7)


# --- A check-in recomputes only the sessions it touches (stored_analysis.refresh_checkin).

def stored_state(patient):
    """Everything stored of one patient's analysis, and the clinic's duration counts."""
    from monitor.models import ChangeSumRow, ClinicDurationCount, TreatmentResultRow

    def rows(table, *where):
        columns = [c for c in table.c if c.name != "version"]  # a new random token at every write
        return [tuple(r) for r in db.session.execute(select(*columns).where(*where)
                                                     .order_by(*table.primary_key.columns))]
    return (rows(PatientAnalysisRow.__table__, PatientAnalysisRow.patient_id == patient.id),
            rows(TreatmentResultRow.__table__, TreatmentResultRow.patient_id == patient.id),
            rows(ChangeSumRow.__table__, ChangeSumRow.patient_id == patient.id),
            rows(ClinicDurationCount.__table__, ClinicDurationCount.count != 0))


WINDOWS = st.tuples(st.integers(-14, -1), st.integers(0, 13)).map(lambda w: (w[0], min(-1, w[0] + w[1])))
NADIRS = st.tuples(st.integers(1, 14), st.integers(0, 5)).map(lambda w: (w[0], min(14, w[0] + w[1])))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=st.dictionaries(st.integers(-60, 0), st.integers(0, 21), max_size=50),
       sessions=st.lists(st.integers(-45, 3), max_size=9),
       writes=st.lists(st.tuples(st.integers(-62, 0), st.integers(0, 21)), min_size=1, max_size=12),
       baseline=WINDOWS, nadir=NADIRS, mcid=st.sampled_from([2, 4, 6]), confirm=st.sampled_from([1, 2, 3]))
def test_a_checkin_stores_what_a_whole_refresh_stores(app, history, sessions, writes, baseline, nadir, mcid, confirm):
    """After every check-in, at any date of the history, with any of the clinic's windows: the
    rows it left (the patient's summary, each session's result and change totals, the change
    sums, the clinic's duration counts) are those a whole refresh stores, and what pages read is
    a fresh computation. Dense sessions make dates read by two sessions at once."""
    from monitor.models import CheckIn

    clinic = get_clinic()
    (clinic.baseline_window_start, clinic.baseline_window_end), (clinic.nadir_window_start, clinic.nadir_window_end) \
        = baseline, nadir
    clinic.mcid, clinic.confirm_days = mcid, confirm
    patient = add_patient(f"incremental{next(_emails)}@example.test", timezone="Europe/London")
    today = local_today(patient.timezone, NOW)
    if history:
        db.session.execute(CheckIn.__table__.insert(), [
            dict(patient_id=patient.id, local_date=today + timedelta(days=offset), total=total, submitted_at=NOW,
                 late_entry=False, source="import", **answers_for(total)) for offset, total in history.items()])
    for offset in sessions:
        add_treatment(patient, at_local(today + timedelta(days=offset), zone=patient.timezone), now=NOW)
    stored_analysis.refresh([patient], now=NOW)
    db.session.commit()
    for offset, total in writes:
        save_checkin(patient, today + timedelta(days=offset), answers_for(total), {}, None, now=NOW)
        db.session.commit()
        after_checkin = stored_state(patient)
        stored_analysis.refresh([patient], now=NOW)
        assert stored_state(patient) == after_checkin, (offset, total)
        assert stored_analysis.for_patients([patient], now=NOW) == fresh([patient], NOW)
        db.session.commit()


def test_a_checkin_inside_one_interval_takes_the_short_way(app, users, monkeypatch):
    """The everyday case recomputes the touched session without a whole refresh."""
    patient = users.patient_a
    today = ten_weekly_sessions(patient)
    whole = []
    monkeypatch.setattr(stored_analysis, "refresh", lambda *args, **kwargs: whole.append(args))
    save_checkin(patient, today - timedelta(days=10), answers_for(9), {}, None, now=NOW)
    db.session.commit()
    assert whole == []
    monkeypatch.undo()
    assert stored_analysis.for_patients([patient], now=NOW) == fresh([patient], NOW)


def test_a_plan_made_before_another_write_of_the_patient_is_not_written(app, users):
    """A check-in works out its change before taking the write lock (plan_checkin). When
    another write of the same patient lands in between, the plan is stale: apply_checkin sees
    the version changed and recomputes the whole analysis instead."""
    from monitor.models import CheckIn
    patient = users.patient_a
    today = local_today(patient.timezone, NOW)
    for offset in range(-30, 0):
        save_checkin(patient, today + timedelta(days=offset), answers_for(15), {}, None, now=NOW)
    record_treatment(patient, TreatmentValues(administered_at=at_local(today - timedelta(days=14)),
                                              route="lozenge", dose_mg=50), recorded_by=None, now=NOW)
    db.session.commit()
    late = today - timedelta(days=13)
    plan = stored_analysis.plan_checkin(patient, late, 6, now=NOW)
    assert plan.version is not None
    # Meanwhile another request stores a lower day 2 of the same session and commits.
    save_checkin(patient, today - timedelta(days=12), answers_for(0), {}, None, now=NOW)
    db.session.commit()
    # Then the first request writes its check-in (day 1 replaced) and its plan.
    db.session.execute(CheckIn.__table__.update()
                       .where(CheckIn.patient_id == patient.id, CheckIn.local_date == late)
                       .values(total=6, **answers_for(6)))
    stored_analysis.apply_checkin(patient, plan, now=NOW)
    db.session.commit()
    assert stored_analysis.for_patients([patient], now=NOW) == fresh([patient], NOW)
    assert stored_analysis.for_patients([patient], now=NOW)[patient.id].treatments[0].nadir == 0


def test_stored_result_columns_are_in_the_results_own_order():
    """for_patients() builds each TreatmentResult from its row's columns by position."""
    names = [f.name for f in dataclasses.fields(durability.TreatmentResult)]
    assert names == ["treatment_date", "interval_end", *stored_analysis.RESULT_FIELDS]
