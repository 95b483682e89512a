"""The patient's pages: the daily check-in, its confirmation, the standard GAD-7 every two
weeks, their own history, and settings. Each shows or changes the signed-in patient's own
record only."""
from datetime import date, timedelta

from flask import abort, flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from wtforms.fields.choices import SelectChoice
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import analysis, digits, standard_gad7, stored_analysis
from ..audit import record
from ..charts import individual as patient_charts
from ..charts import to_json
from ..checkins import allowed_dates, save_checkin
from ..clinic import get_clinic
from ..extensions import db
from ..instruments import (DAILY_STEM, GAD7_NOTICE, GAD7_STEM, ITEM_CODES, ROUTE_LABELS, SIDE_EFFECT_KEYS,
                           band_for, daily_stem)
from ..models import CheckIn, Treatment
from ..timeutil import is_valid_timezone, local_today, timezone_groups, to_local, utcnow
from ..security import offers_resubmit
from . import bp
from .forms import CheckInForm, Gad7Form, SettingsForm


def _date_label(day: date, today: date) -> str:
    if day == today:
        return f"Today ({day:%a %-d %b})"
    if day == today - timedelta(days=1):
        return f"Yesterday ({day:%a %-d %b})"
    return f"{day:%A %-d %b}"


def _parse_day(text: str | None, choices: list[date]) -> date | None:
    try:
        day = date.fromisoformat(text) if text else None
    except ValueError:
        return None
    return day if day in choices else None


@bp.route("/checkin", methods=["GET", "POST"])
@offers_resubmit(CheckInForm)
def checkin():
    # The user itself, not the proxy: the save and the analysis refresh read it many times.
    patient = current_user._get_current_object()
    dates = allowed_dates(patient)
    today = dates[0]
    form = CheckInForm()
    form.local_date.choices = [SelectChoice(d.isoformat(), _date_label(d, today)) for d in dates]

    if request.method == "GET":
        requested = request.args.get("day")
        day = _parse_day(requested, dates)
        if requested and day is None:
            return render_template("patient/checkin.html", form=form, stem=DAILY_STEM, existing=None,
                                   date_problem=_date_problem(requested, today)), 400
        day = day or today
        existing = _checkin_on(patient.id, day)
        if existing is not None:
            for code, value in {**existing.answers(),
                                **{f"se_{k}": v for k, v in existing.side_effects().items()}}.items():
                if value is not None:
                    form[code].process_data(value)
            form.note.data = existing.note
        form.local_date.data = day.isoformat()
        form.submission_key.issue()
        return render_template("patient/checkin.html", form=form, stem=daily_stem(day, today), existing=existing)

    # The page's script sends the form itself (static/js/offline.js), now or, when the phone had
    # no connection, later from its queue: it asks for JSON and shows the words sent back.
    queued = _wants_json()
    date_problem = None
    day = _parse_day(form.local_date.data, dates)
    if day is None:
        date_problem = _date_problem(form.local_date.data, today)
    if not form.validate() or date_problem:
        if queued and date_problem:
            return jsonify(refused=_not_saved_for(form.local_date.data, date_problem)), 422
        if queued:
            return jsonify(refused=NOT_VALID, errors=form.errors), 400
        form.submission_key.keep_for_redisplay()
        return render_template("patient/checkin.html", form=form, stem=daily_stem(day or today, today),
                               existing=None, date_problem=date_problem), 400
    result = save_checkin(
        patient, day,
        {code: form[code].data for code in ITEM_CODES},
        {k: form[f"se_{k}"].data for k in SIDE_EFFECT_KEYS},
        (form.note.data or "").strip() or None,
        submission_key=form.submission_key.key,
    )
    if result.outcome == "conflict":  # nothing was written
        if queued:
            return jsonify(refused=KEY_REUSED), 409
        form.submission_key.issue()
        return render_template("patient/checkin.html", form=form, stem=daily_stem(day, today), existing=None,
                               date_problem=None, refusal=KEY_REUSED), 409
    # The patient's own answers, stored (or found stored already) in this one commit.
    db.session.commit()
    done = url_for("patient.checkin_done", day=day.isoformat())
    if queued:
        return jsonify(outcome=result.outcome, done=done)
    return redirect(done, code=303)


NOT_VALID = "Not saved: some answers were missing or not valid. Open the check-in and send it again."
KEY_REUSED = ("Not saved: this form was already sent with other answers, which are kept. "
              "Open the check-in again to change them.")


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


def _not_saved_for(text: str | None, problem: str) -> str:
    """The refusal a queued check-in shows on the phone: its day, and why (SPEC 2.1's window)."""
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return f"Not saved: {problem}"
    return f"Not saved. This check-in was for {day:%A %-d %B}: {problem[0].lower()}{problem[1:]}"


def _date_problem(text: str | None, today: date) -> str:
    try:
        day = date.fromisoformat(text or "")
    except ValueError:
        return "That is not a valid date."
    if day > today:
        return "You cannot check in for a future date."
    return "Check-ins can be entered for today and the previous 3 days only."


def _checkin_on(patient_id: int, day: date) -> CheckIn | None:
    return db.session.scalar(select(CheckIn).where(CheckIn.patient_id == patient_id, CheckIn.local_date == day))


def _date_or_404(text: str) -> date:
    """A date from an address (a done page's); anything else is a page that does not exist."""
    try:
        return date.fromisoformat(text)
    except ValueError:
        abort(404)


@bp.get("/checkin/<day>/done")
def checkin_done(day: str):
    parsed = _date_or_404(day)
    checkin = _checkin_on(current_user.id, parsed)
    if checkin is None:
        abort(404)
    today = local_today(current_user.timezone)
    # The standard GAD-7 is offered here, after the day's own check-in, rather than by a
    # redirect: this page carries the severe-side-effect alert and the day's total, which a
    # redirect would skip. Only after today's check-in, since the GAD-7 needs it first.
    return render_template("patient/checkin_done.html", checkin=checkin, band=band_for(checkin.total),
                           today=today, gad7_offered=parsed == today and _gad7_offered(today))


@bp.get("/me")
def home():
    patient = current_user
    today = local_today(patient.timezone)
    checkins = db.session.scalars(
        select(CheckIn).where(CheckIn.patient_id == patient.id, CheckIn.local_date > today - timedelta(days=30))
        .order_by(CheckIn.local_date.desc())
    ).all()
    treatments = db.session.scalars(
        select(Treatment).where(Treatment.patient_id == patient.id).order_by(Treatment.administered_at.desc())
    ).all()
    now = utcnow()
    shown = [
        {"when": to_local(t.administered_at, patient.timezone), "route": ROUTE_LABELS[t.route],
         "planned": t.administered_at > now}
        for t in treatments
    ]
    return render_template(
        "patient/home.html", checkins=checkins, band_for=band_for, today=today,
        checked_in_today=any(c.local_date == today for c in checkins), gad7_offered=_gad7_offered(today),
        planned=[t for t in shown if t["planned"]][::-1], past=[t for t in shown if not t["planned"]],
    )


# --- The standard GAD-7 (SPEC 2.2): after the day's check-in, for the patient's local today.

def _gad7_offered(today: date) -> bool:
    return standard_gad7.offered(current_user, standard_gad7.last_date(current_user.id), today)


def _gad7_page(form: Gad7Form, status: int = 200):
    return render_template("patient/gad7.html", form=form, stem=GAD7_STEM, notice=GAD7_NOTICE), status


@bp.route("/gad7", methods=["GET", "POST"])
@offers_resubmit(Gad7Form)
def gad7():
    """The two-week questionnaire, for today only: after today's check-in (else the check-in
    first), once (a second visit shows the first's result), and only when due."""
    patient = current_user._get_current_object()
    today = local_today(patient.timezone)
    if _checkin_on(patient.id, today) is None:
        flash("Please do today's check-in first. The two-week questionnaire comes after it.", "info")
        return redirect(url_for("patient.checkin"), code=303)
    if standard_gad7.on(patient.id, today) is not None:  # a double-tapped submit lands here too
        return redirect(url_for("patient.gad7_done", day=today.isoformat()), code=303)
    if not standard_gad7.owed(patient, standard_gad7.last_date(patient.id), today):
        flash("The two-week questionnaire is not due today.", "info")
        return redirect(url_for("patient.home"), code=303)
    form = Gad7Form()
    if request.method == "GET":
        return _gad7_page(form)
    if not form.validate():
        return _gad7_page(form, 400)
    difficulty = form.difficulty.data
    try:
        with db.session.begin_nested():  # a concurrent submit of the same day: the first one stands
            standard_gad7.save(patient, today, {code: form[code].data for code in ITEM_CODES}, difficulty)
    except IntegrityError:
        pass
    # The patient's own answers: stored whole or not at all, in this one commit.
    db.session.commit()
    return redirect(url_for("patient.gad7_done", day=today.isoformat()), code=303)


@bp.post("/gad7/later")
def gad7_later():
    """"Later": not offered again today, due again tomorrow."""
    patient = current_user._get_current_object()
    today = local_today(patient.timezone)
    if standard_gad7.owed(patient, standard_gad7.last_date(patient.id), today):
        standard_gad7.defer(patient, today)
        # The patient's own choice for today, kept so that no page offers it again today.
        db.session.commit()
        flash("All right. We will ask you the two-week questionnaire again tomorrow.", "info")
    return redirect(url_for("patient.home"), code=303)


@bp.get("/gad7/<day>/done")
def gad7_done(day: str):
    parsed = _date_or_404(day)
    found = standard_gad7.on(current_user.id, parsed)
    if found is None:
        abort(404)
    return render_template("patient/gad7_done.html", result=found, band=standard_gad7.severity(found.total),
                           today=local_today(current_user.timezone), notice=GAD7_NOTICE,
                           next_due=standard_gad7.next_due(standard_gad7.last_date(current_user.id)))


TREND_PERIODS = (30, 90)


@bp.get("/me/trend")
def trend():
    """The patient's own last 30 or 90 days with sessions marked, sized for a phone."""
    days = request.args.get("days", type=lambda text: digits.whole_number(text, "days"), default=30)
    if days not in TREND_PERIODS:
        days = 30
    patient = current_user
    data = analysis.load_one(patient, since=local_today(patient.timezone) - timedelta(days=days - 1))
    treatment_days = sorted(data.first_treatment_on())
    chart = patient_charts.own_trend(data.totals, treatment_days, data.today, days)
    start = data.today - timedelta(days=days - 1)
    rows = [(d, data.totals[d], band_for(data.totals[d])) for d in sorted(data.totals, reverse=True) if d >= start]
    return render_template("patient/trend.html", days=days, periods=TREND_PERIODS, chart=chart,
                           chart_json=to_json(chart.figure), rows=rows,
                           treatment_days=[d for d in treatment_days if start <= d <= data.today])


@bp.route("/me/settings", methods=["GET", "POST"])
@offers_resubmit(SettingsForm)
def settings():
    """Time zone, reminder time and reminder emails. Check-in dates and the reminder follow the
    zone chosen here; changing it mid-day never brings a second reminder for a date."""
    patient = current_user
    form = SettingsForm()
    form.timezone.choices = timezone_groups(get_clinic().timezone)
    if request.method == "GET":
        form.timezone.data = patient.timezone if is_valid_timezone(patient.timezone) else get_clinic().timezone
        form.reminder_time.process_data(patient.reminder_time)
        form.nudges.data = "off" if patient.email_opt_out else "on"
        return render_template("patient/settings.html", form=form)
    if not form.validate():
        return render_template("patient/settings.html", form=form), 400
    new = {"timezone": form.timezone.data, "reminder_time": form.reminder_time.value,
           "email_opt_out": form.nudges.data == "off"}
    changed = [name for name, value in new.items() if getattr(patient, name) != value]
    # change_timezone remembers the zone left behind: a change past midnight must not skip a reminder.
    patient.change_timezone(new["timezone"], utcnow())
    patient.reminder_time, patient.email_opt_out = new["reminder_time"], new["email_opt_out"]
    if "timezone" in changed:
        # Every date of the analysis is a local date: recomputed in the new zone with the change.
        stored_analysis.refresh([patient])
    if changed:
        record("settings.changed", target_type="patient", target_id=patient.id, detail=", ".join(changed))
    db.session.commit()
    flash("Your settings are saved." if changed else "Nothing was changed.", "info")
    return redirect(url_for("patient.settings"), code=303)
