"""The triage dashboard (GET /patients): one row per patient of the viewer's panel (an admin's
is every patient), flagged, and ordered by need of attention.

The flags are pure functions of one patient's loaded data (analysis.PatientData: daily totals
by local date, sessions, the SPEC 4 analysis) and the patient's local `today`, so they can be
tested without a database. build() loads everything in a fixed number of queries whatever
the panel's size: the patients (and, for an admin, their providers), a window of their
check-in totals, their last session, their stored analysis, and the dates of recent severe
side effects. The worker keeps the panel's rows between views (Panel) until a write or the
clock changes any of them; a view then reads only the write version and its page's extras.

Every "day" here is the patient's own calendar date, as in SPEC 4 and 5."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime, time, timedelta, timezone

from flask import current_app
from markupsafe import Markup
from sqlalchemy import func, select, text

from . import analysis, durability, paging, roster, schedule, sparkline, standard_gad7, stored_analysis, write_version
from .access import patients_visible_to
from .clinic import get_clinic
from .extensions import db
from .sql import among
from .instruments import Band, band_for
from .models import SEVERE_SIDE_EFFECT_SQL, CheckIn, PatientStatus, Role, Treatment, User
from .roster import ListedPatient
from .timeutil import local_todays, to_local, utcnow
from .wording import plural

ADHERENCE_DAYS = 14
SIDE_EFFECT_DAYS = 7   # today and the 6 days before
RISE_DAYS = 3          # the days before the latest check-in that "rising" compares with
SEARCH_MAX_LENGTH = 80


@dataclass(frozen=True)
class Flag:
    key: str      # the ?flag= value: a flag's name, never health information about anyone
    label: str
    explanation: str  # for the legend; {mcid_points} and {lapse_days} are the clinic's settings


# Most urgent first. The attention score gives each flag a weight larger than all the flags
# below it together, so rows are ordered by their most urgent flag, then their next, and so on;
# patients with the same flags are ordered by name.
FLAGS = [
    Flag("side-effect", "Severe side effect",
         "A side effect rated severe in a check-in of the last 7 days (today and the 6 days before)."),
    Flag("severe", "Severe band", "The latest daily total is 15 or more (severe band)."),
    Flag("waning", "Waning now",
         "The latest session's benefit has worn off: its wane day is reached (totals back at or above "
         "its threshold on consecutive days)."),
    Flag("lapsed", "Lapsed",
         "An active patient has missed {lapse_days} or more days in a row, up to yesterday. Days before "
         "their first check-in or before they were enrolled do not count."),
    Flag("no-response", "No response",
         "The latest session did not lower the total by {mcid_points} (the clinic's smallest "
         "meaningful change) nor by half."),
    Flag("rising", "Rising",
         "The latest total is at least {mcid_points} above the lowest total of the 3 days before "
         "that check-in."),
    Flag("wane-expected", "Wane expected",
         "The latest session is still holding, but it has reached (within a day) the patient's "
         "typical duration or, while theirs is unknown, the clinic's typical duration across all "
         "patients. The badge gives the expected date."),
    Flag("missed", "Missed yesterday",
         "An active patient has no check-in for yesterday (today's is not due yet). Lapsed patients "
         "are included."),
]
FLAG_BY_KEY = {flag.key: flag for flag in FLAGS}
WEIGHTS = {flag.key: 2 ** (len(FLAGS) - 1 - n) for n, flag in enumerate(FLAGS)}


def legend(mcid: int, lapse_days: int) -> list[tuple[Flag, str]]:
    return [(flag, flag.explanation.format(mcid_points=plural(mcid, "point"), lapse_days=lapse_days)) for flag in FLAGS]


def attention_score(flags) -> int:
    return sum(WEIGHTS[key] for key in flags)


# --- Pure functions of one patient's data.

def latest_checkin(totals: dict[date, int]) -> tuple[date, int] | None:
    if not totals:
        return None
    day = max(totals)
    return day, totals[day]


def rise(totals: dict[date, int]) -> int | None:
    """How far the latest total is above the lowest total of the 3 days before it.

    Our reading of "rising by at least the MCID over 3 days": compare the latest check-in with
    the best (lowest) of the three local days before it, those that have a check-in; None when
    none of them has one."""
    latest = latest_checkin(totals)
    if latest is None:
        return None
    day, total = latest
    before = [totals[d] for n in range(1, RISE_DAYS + 1) if (d := day - timedelta(days=n)) in totals]
    return total - min(before) if before else None


def recent_side_effect(severe_dates, today: date, days: int = SIDE_EFFECT_DAYS) -> date | None:
    """The latest local date of the last `days` days (today included) with a severe side effect."""
    recent = [d for d in severe_dates if today - timedelta(days=days - 1) <= d <= today]
    return max(recent) if recent else None


def last_treatment_date(data: analysis.PatientData, now: datetime) -> date | None:
    """The local date of the last session that has taken place; planned ones are not "since"."""
    past = [t for t in data.treatments if t.administered_at <= now]
    return data.treatment_date(past[-1]) if past else None


@dataclass
class Row:
    patient: User | ListedPatient   # a User on the patient's own page (row_for_patient)
    today: date
    latest_date: date | None
    latest_total: int | None
    band: Band | None
    days_since_treatment: int | None
    typical_duration: float | None   # the patient's Kaplan-Meier median wane day (SPEC 4)
    responding_treatments: int
    adherence: int                   # days with a check-in of the last ADHERENCE_DAYS
    missed_days: int
    today_state: str                 # schedule.day_state of the patient's own today (SPEC 5)
    rise: int | None
    side_effect_on: date | None
    wane_expected_on: date | None
    flags: frozenset[str]
    trend: Markup                    # sparkline of the last sparkline.DAYS days
    trend_checkins: int              # check-ins in those days
    # The first and latest standard GAD-7 (SPEC 2.2); loaded by build() for the page's rows only.
    standard: standard_gad7.Summary | None = None
    # The latest session's forecast wane date however far off (durability.expected_wane_on);
    # row_for_patient() fills it for the patient's page, the dashboard shows the flag only.
    expected_wane_on: date | None = None

    @property
    def score(self) -> int:
        return attention_score(self.flags)

    @property
    def adherence_percent(self) -> int:
        return round(100 * self.adherence / ADHERENCE_DAYS)

    @property
    def invitation_pending(self) -> bool:
        return not self.patient.has_password

    @property
    def active(self) -> bool:
        return self.patient.status == PatientStatus.ACTIVE.value


def build_row(data: analysis.PatientData, *, now: datetime, mcid: float, lapse_days: int,
              cohort_median: float | None, severe_side_effect_dates=(), expected_from: date | None = None,
              with_trend: bool = True) -> Row:
    """One patient's row: the values shown and the flags, from data already loaded.

    `expected_from` is the first local date a check-in is expected (schedule.counting_from: the
    later of enrolment and the last return from a pause); by default the date of enrolment.
    Without `with_trend` the sparkline is left empty: build() draws it for the rows on the page."""
    patient, today, totals = data.patient, data.today, data.totals
    result = data.analysis or durability.PatientAnalysis(None, [], None, 0)
    latest = latest_checkin(totals)
    status = result.latest.status if result.latest else None
    flags = set()

    side_effect_on = recent_side_effect(severe_side_effect_dates, today)
    if side_effect_on is not None:
        flags.add("side-effect")
    band = band_for(latest[1]) if latest else None
    if band is not None and band.key == "severe":
        flags.add("severe")
    if status == durability.WANED:
        flags.add("waning")
    if status == durability.NO_RESPONSE:
        flags.add("no-response")
    risen = rise(totals)
    if risen is not None and risen >= mcid:
        flags.add("rising")
    wane_on = durability.wane_expected(result, today, cohort_median)
    if wane_on is not None:
        flags.add("wane-expected")

    # Paused and discharged patients are not expected to check in.
    missed = 0
    if patient.status == PatientStatus.ACTIVE.value:
        if expected_from is None and patient.created_at is not None:
            expected_from = to_local(patient.created_at, patient.timezone).date()
        missed = schedule.missed_streak(totals.keys(), today, expected_from)
        if missed:
            flags.add("missed")
            if missed >= lapse_days:
                flags.add("lapsed")

    treatment_on = last_treatment_date(data, now)
    return Row(
        patient=patient, today=today,
        latest_date=latest[0] if latest else None,
        latest_total=latest[1] if latest else None,
        band=band,
        days_since_treatment=(today - treatment_on).days if treatment_on else None,
        typical_duration=result.median_duration,
        responding_treatments=result.responding_treatments,
        adherence=schedule.adherence(totals.keys(), today, ADHERENCE_DAYS)[0],
        missed_days=missed,
        today_state=schedule.day_state(today, now, patient.timezone, patient.reminder_time or schedule.DEFAULT_REMINDER,
                                       checked_in=today in totals,
                                       active=patient.status == PatientStatus.ACTIVE.value),
        rise=risen,
        side_effect_on=side_effect_on,
        wane_expected_on=wane_on,
        flags=frozenset(flags),
        trend=trend(data) if with_trend else Markup(""),
        trend_checkins=trend_checkins(data) if with_trend else 0,
    )


def row_for_patient(data: analysis.PatientData, *, now: datetime | None = None) -> Row:
    """The dashboard's row of one patient, for the top of their page: build_row with the inputs
    build() gives it, so the page shows exactly the flags the dashboard does. `data` is the
    patient's analysed history with its check-in rows (analysis.load_one(with_checkins=True));
    this adds the clinic's typical duration and the patient's last return to "active" (two small
    queries). No sparkline: the page has the chart."""
    now = now or utcnow()
    clinic = get_clinic()
    try:
        cohort_median = stored_analysis.clinic_median_duration(analysis.settings_for(clinic), now)
    except stored_analysis.FiguresUpdating:
        cohort_median = None  # as on the dashboard while the clinic's figures are recomputed
    patient = data.patient
    resumed = analysis.returns_to_active([patient.id]).get(patient.id)
    row = build_row(data, now=now, mcid=clinic.mcid, lapse_days=clinic.lapse_days, cohort_median=cohort_median,
                    severe_side_effect_dates=[c.local_date for c in data.checkins if c.has_severe_side_effect],
                    expected_from=schedule.counting_from(patient.timezone, patient.created_at, resumed),
                    with_trend=False)
    if data.analysis is not None:
        row.expected_wane_on = durability.expected_wane_on(data.analysis, cohort_median)
    return row


def trend(data: analysis.PatientData) -> Markup:
    return sparkline.svg(data.totals, data.today, treatments=[data.treatment_date(t) for t in data.treatments])


def trend_checkins(data: analysis.PatientData) -> int:
    """Check-ins among the sparkline's days."""
    first = data.today - timedelta(days=sparkline.DAYS - 1)
    return sum(1 for d in data.totals if first <= d <= data.today)


def ordered(rows: list[Row]) -> list[Row]:
    """Most attention first; equal scores by last name, then first name."""
    return sorted(rows, key=lambda r: (-r.score, (r.patient.last_name or "").casefold(),
                                       (r.patient.first_name or "").casefold(), r.patient.id))


def matches(patient: User | ListedPatient, text: str) -> bool:
    """Case-insensitive substring of the first name, the last name, or both together."""
    needle = " ".join(text.split()).casefold()
    if not needle:
        return True
    first, last = patient.first_name or "", patient.last_name or ""
    names = (first, last, f"{first} {last}", f"{last} {first}", f"{last}, {first}")
    return any(needle in name.casefold() for name in names)


def clean_search(text: str | None) -> str:
    return " ".join((text or "").split())[:SEARCH_MAX_LENGTH]


# --- Loading.

PAGE_SIZE = 50  # rows per page: the most urgent first, so page 1 is where the day starts


@dataclass
class Dashboard:
    rows: list[Row]               # the rows of this page: filtered, searched, ordered
    total: int                    # patients on the panel before filtering
    found: int                    # patients the search finds (all of them without a search)
    counts: dict[str, int]        # patients per flag among those the search finds
    flag: Flag | None             # the flag filtered by, when it exists
    unknown_flag: bool            # a ?flag= value that names no flag (all rows are shown)
    search: str
    cohort_median: float | None
    mcid: int
    lapse_days: int
    shown: int = 0                # rows on every page together
    page: int = 1
    pages: int = 1
    updating: bool = False        # the clinic's typical duration is being recomputed (settings changed)

    @property
    def legend(self) -> list[tuple[Flag, str]]:
        return legend(self.mcid, self.lapse_days)

    @property
    def first_shown(self) -> int:
        """The position of this page's first row among all rows shown, from 1."""
        return (self.page - 1) * PAGE_SIZE + 1


# Every column and flag reads at most this many days of check-ins back from a patient's today
# (the adherence window ends today or yesterday); the latest check-in and the three days before
# it ("rising") may be older. The sparkline's 30 days are read for the rows on the page only.
WINDOW_DAYS = max(ADHERENCE_DAYS + 1, SIDE_EFFECT_DAYS)
# Of sessions, a row reads only the last that has taken place ("days since session"); the
# sparkline's sessions are read for the rows on the page (a panel's month of them, converted
# to local dates, cost more than the flags that never look at them).


def _rows(statement) -> list:
    """Plain rows on the session's connection, fetched at once: no ORM loading step for a
    panel's worth of them."""
    return db.session.connection().execute(statement).all()


@dataclass
class Recent:
    data: dict[int, analysis.PatientData]
    severe_side_effects: dict[int, list[date]]   # local dates with a severe side effect, per patient
    since: date | None = None                    # the first date of the check-in window


def _recent(patients: list[ListedPatient], now: datetime, visible=None) -> Recent:
    """What the rows read of each patient's history, in a fixed number of queries however long
    that history is: the last WINDOW_DAYS of check-ins (and which had a severe side effect) and
    sessions, each patient's latest check-in with the RISE_DAYS before it, and their last
    session, when older. Plain columns, no ORM objects: a panel's worth of them costs more than
    the queries. `visible`: a SELECT of these patients' ids, cheaper than a list of 500."""
    todays = local_todays((p.timezone for p in patients), now)
    data = {p.id: analysis.PatientData(p, todays[p.timezone]) for p in patients}
    severe_dates: dict[int, list[date]] = {}
    if not data:
        return Recent(data, severe_dates)
    ids = visible if visible is not None else list(data)
    since = min(todays.values()) - timedelta(days=WINDOW_DAYS)
    for patient_id, local_date, total in _rows(
            select(CheckIn.patient_id, CheckIn.local_date, CheckIn.total)
            .where(among(CheckIn.patient_id, ids), CheckIn.local_date >= since)):
        data[patient_id].totals[local_date] = total
    # Few check-ins report a severe side effect: found through their own partial index, where
    # asking it of each row above would read all of them again (models.SEVERE_SIDE_EFFECT_SQL).
    # recent_side_effect() keeps each patient's own last SIDE_EFFECT_DAYS.
    for patient_id, local_date in _rows(
            select(CheckIn.patient_id, CheckIn.local_date)
            .where(among(CheckIn.patient_id, ids), CheckIn.local_date >= since, text(f"({SEVERE_SIDE_EFFECT_SQL})"))):
        severe_dates.setdefault(patient_id, []).append(local_date)
    # Missed days count back from the latest check-in before today: when the window has none,
    # the latest before the window. That is also the latest check-in of all when the window
    # has none at all; "rising" reads it with the RISE_DAYS before it.
    prior = analysis.latest_before(CheckIn.local_date, CheckIn.patient_id, since,
                           [i for i, item in data.items() if not any(d < item.today for d in item.totals)])
    latest = {i: max(item.totals) if item.totals else prior.get(i) for i, item in data.items()}
    older = {i: day for i, day in latest.items() if day is not None and day - timedelta(days=RISE_DAYS) < since}
    # Always run (with nothing to find when no one needs it): the query count stays fixed.
    earliest = min([*prior.values(), *(day - timedelta(days=RISE_DAYS) for day in older.values())], default=since)
    for patient_id, local_date, total in _rows(
            select(CheckIn.patient_id, CheckIn.local_date, CheckIn.total)
            .where(among(CheckIn.patient_id, older.keys() | prior.keys()), CheckIn.local_date < since,
                   CheckIn.local_date >= earliest)):
        day = older.get(patient_id)
        if local_date == prior.get(patient_id) or (day and day - timedelta(days=RISE_DAYS) <= local_date <= day):
            data[patient_id].totals[local_date] = total
    for item in data.values():
        item.totals = dict(sorted(item.totals.items()))
    for patient_id, at in analysis.latest_before(Treatment.administered_at, Treatment.patient_id, now, ids,
                                                 inclusive=True).items():
        data[patient_id].treatments.append(analysis.TreatmentTime(at))
    return Recent(data, severe_dates, since)


def _with_trend_days(recent: Recent, patient_ids: list[int]) -> dict[int, analysis.PatientData]:
    """These rows' data with what their sparklines add: the check-ins and sessions of its days
    that the row window left out (a query each, run even for no rows so that a page's query
    count does not depend on its rows). Copies: `recent` is kept between views."""
    if recent.since is None:
        return {}  # no patients at all
    more = {i: {} for i in patient_ids}
    first = min((recent.data[i].today for i in patient_ids), default=recent.since) - timedelta(days=sparkline.DAYS)
    for patient_id, local_date, total in _rows(
            select(CheckIn.patient_id, CheckIn.local_date, CheckIn.total)
            .where(among(CheckIn.patient_id, patient_ids), CheckIn.local_date >= first,
                   CheckIn.local_date < recent.since)):
        more[patient_id][local_date] = total
    sessions = {patient_id: [] for patient_id in patient_ids}
    # A day's margin before the first local date, for zones ahead of UTC.
    for patient_id, at in _rows(
            select(Treatment.patient_id, Treatment.administered_at)
            .where(among(Treatment.patient_id, patient_ids),
                   Treatment.administered_at >= datetime.combine(first - timedelta(days=1), time.min, tzinfo=timezone.utc))
            .order_by(Treatment.administered_at, Treatment.id)):
        sessions[patient_id].append(analysis.TreatmentTime(at))
    found = {}
    for patient_id in patient_ids:
        item = recent.data[patient_id]
        # With the last session before them, which the row read (the same session may be both).
        found[patient_id] = replace(item, totals=dict(sorted({**item.totals, **more[patient_id]}.items())),
                                    treatments=sorted({*item.treatments, *sessions[patient_id]}))
    return found


@dataclass
class Panel:
    """One viewer's whole panel as triage rows, ordered, with what the page's sparklines start
    from: kept by the worker between views while the clinic's write version stays the same
    (write_version.Cache) and the clock has not changed any row (current_at). A view only
    filters, pages, and draws its 50 rows' sparklines."""

    rows: list[Row]                  # every patient's row, most attention first; never changed once built
    recent: Recent                   # what the rows were built from (the sparklines add to copies)
    cohort_median: float | None
    updating: bool
    zone_dates: dict[str, date]      # the local date in each of the clinic's patient zones when built
    next_change_at: datetime | None  # the first instant after that at which the clock alone moves a row

    def current_at(self, now: datetime) -> bool:
        """Whether building it now would give the same: stored analyses, the clinic's typical
        duration and every count of days change when a zone's local date does; "days since
        session" when a planned session's time arrives, and today's state ("late") at a
        patient's reminder time."""
        return ((self.next_change_at is None or now < self.next_change_at)
                and local_todays(self.zone_dates, now) == self.zone_dates)


def _load_panel(viewer: User, now: datetime, settings: durability.Settings, lapse_days: int) -> Panel:
    visible = patients_visible_to(viewer)
    ids = visible.with_only_columns(User.id)
    patients = roster.listed(visible, with_providers=viewer.is_admin)
    recent = _recent(patients, now, visible=ids)
    for patient_id, found in stored_analysis.for_patients(patients, now=now, settings=settings,
                                                          latest_only=True).items():
        recent.data[patient_id].analysis = found
    # SPEC 4: a patient without a typical duration of their own falls back on the clinic's.
    cohort_median, updating = None, False
    if patients:
        try:
            cohort_median = stored_analysis.clinic_median_duration(settings, now)
        except stored_analysis.FiguresUpdating:
            updating = True  # after a change of settings: the page says so
    resumed = analysis.returns_to_active([p.id for p in patients])
    rows = [build_row(d, now=now, mcid=settings.mcid, lapse_days=lapse_days, cohort_median=cohort_median,
                      severe_side_effect_dates=recent.severe_side_effects.get(d.patient.id, ()),
                      expected_from=schedule.counting_from(d.patient.timezone, d.patient.created_at,
                                                           resumed.get(d.patient.id)),
                      with_trend=False)
            for d in recent.data.values()]
    # The clinic's zones, not the panel's: the clinic's typical duration reads every patient.
    zones = db.session.scalars(select(User.timezone).where(User.role == Role.PATIENT.value).distinct()).all()
    next_treatment = db.session.scalar(select(func.min(Treatment.administered_at))
                                       .where(among(Treatment.patient_id, ids), Treatment.administered_at > now))
    return Panel(ordered(rows), recent, cohort_median, updating, local_todays(zones, now),
                 min(filter(None, [next_treatment, _next_reminder(patients, recent, now)]), default=None))


def _next_reminder(patients: list[ListedPatient], recent: Recent, now: datetime) -> datetime | None:
    """The first reminder instant after `now` on the panel's local dates: a row's "today" turns
    from "not yet due" to "late" then (once per zone and reminder time, not per patient)."""
    pairs = {(p.timezone, p.reminder_time or schedule.DEFAULT_REMINDER, recent.data[p.id].today) for p in patients}
    later = [at for zone, reminder, today in pairs if (at := schedule.reminder_instant(today, reminder, zone)) > now]
    return min(later, default=None)


def build(viewer: User, *, flag: str | None = None, search: str = "", page: int = 1,
          now: datetime | None = None) -> Dashboard:
    """The viewer's panel as triage rows; `flag` (a key of FLAG_BY_KEY) and `search` (a name
    fragment) narrow what is shown, and `page` picks PAGE_SIZE rows of it (a page past the last
    gives the last). An unknown flag narrows nothing. Every row is flagged and ordered; only the
    page's rows get their sparkline drawn."""
    now = now or utcnow()
    clinic = get_clinic()
    settings = analysis.settings_for(clinic)
    # The viewer's role and the clinic's settings are read before the write version: they are
    # part of the key, so a panel is never kept for other settings or another scope.
    key = (viewer.id, viewer.role, stored_analysis.settings_key(settings), clinic.lapse_days)
    panel = panels().get(key, now, lambda: _load_panel(viewer, now, settings, clinic.lapse_days))

    chosen = FLAG_BY_KEY.get(flag) if flag else None
    search = clean_search(search)
    found = [r for r in panel.rows if matches(r.patient, search)]
    shown = [r for r in found if chosen is None or chosen.key in r.flags]
    listed = paging.list_page(page, len(shown), PAGE_SIZE)
    on_page = [replace(row) for row in listed.of(shown)]  # copies, which the page completes
    with_trend = _with_trend_days(panel.recent, [row.patient.id for row in on_page])
    standard = standard_gad7.summaries([row.patient.id for row in on_page])  # one query, run even for none
    for row in on_page:
        row.trend, row.trend_checkins = trend(with_trend[row.patient.id]), trend_checkins(with_trend[row.patient.id])
        row.standard = standard.get(row.patient.id)
    return Dashboard(
        rows=on_page,
        total=len(panel.rows),
        found=len(found),
        counts={f.key: sum(1 for r in found if f.key in r.flags) for f in FLAGS},
        flag=chosen,
        unknown_flag=bool(flag) and chosen is None,
        search=search,
        cohort_median=panel.cohort_median,
        mcid=clinic.mcid,
        lapse_days=clinic.lapse_days,
        shown=len(shown),
        page=listed.number,
        pages=listed.pages,
        updating=panel.updating,
    )


def panels() -> write_version.Cache[Panel]:
    """This worker's kept panels (one cache per app: tests run many apps in one process)."""
    return current_app.extensions.setdefault("dashboard.panels", write_version.Cache())
