"""Staff pages: the panel, enrolling patients, a patient's record, and treatment sessions.

Every patient is looked up through access.patient_or_404, and every view or change of a
patient's data is audited (SPEC 6)."""
import secrets
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from .. import analysis, treatments
from ..charts import page as patient_charts
from ..access import patient_or_404, refuse
from ..accounts import DUPLICATE_EMAIL, enrol_patient, find_by_email, try_invitation
from ..audit import record
from ..clinic import get_clinic
from ..extensions import db
from ..instruments import ITEMS, ROUTE_LABELS, SIDE_EFFECTS, SEVERE_SIDE_EFFECT, band_for
from ..models import CheckIn, CheckInRevision, Role, User
from .. import panel as triage
from ..timeutil import timezone_choices, to_local, utcnow
from .forms import EnrolForm, SessionForm


bp = Blueprint("provider", __name__)

CHECKIN_DAYS = 90


@bp.before_request
@login_required
def staff_only():
    # Patients have no staff pages: answer as if the address did not exist.
    if not current_user.is_staff:
        refuse()


# The name searched for on the panel is kept in the (signed) session cookie, never in a URL:
# addresses end up in logs and browser history, and a patient's name is health information.
PANEL_SEARCH = "panel_search"


def _panel_search() -> str:
    saved = session.get(PANEL_SEARCH)
    # Keyed by account, so the next person to sign in on a shared computer does not inherit it.
    if isinstance(saved, dict) and saved.get("user") == current_user.id:
        return saved.get("text") or ""
    return ""


@bp.get("/patients")
def panel():
    board = triage.dashboard(current_user, flag=request.args.get("flag"), search=_panel_search())
    page = render_template("provider/panel.html", board=board)
    # Commit after rendering: a commit expires every loaded row, and reloading them one by one
    # would cost a query per patient. The search text is a name: it stays out of the audit log.
    detail = f"{len(board.rows)} of {board.total} patients"
    if board.flag:
        detail += f", flag {board.flag.key}"
    if board.search:
        detail += ", name search"
    record("panel.viewed", detail=detail)
    db.session.commit()
    return page


@bp.post("/patients/search")
def panel_search():
    text = "" if "clear" in request.form else triage.clean_search(request.form.get("q"))
    if text:
        session[PANEL_SEARCH] = {"user": current_user.id, "text": text}
    else:
        session.pop(PANEL_SEARCH, None)
    flag = request.form.get("flag")
    return redirect(url_for("provider.panel", flag=flag if flag in triage.FLAG_BY_KEY else None), code=303)


# --- Enrolment.

def _provider_choices() -> list[SelectChoice]:
    providers = db.session.scalars(
        select(User).where(User.role == Role.PROVIDER.value, User.active.is_(True))
        .order_by(User.last_name, User.first_name)
    ).all()
    return [SelectChoice(p.id, f"{p.display_name} ({p.email})") for p in providers]


@bp.route("/patients/new", methods=["GET", "POST"])
def enrol():
    clinic = get_clinic()
    form = EnrolForm()
    form.timezone.choices = [SelectChoice(zone) for zone in timezone_choices()]
    if current_user.is_admin:
        form.providers.choices = _provider_choices()
    else:
        del form.providers
    if request.method == "GET":
        form.timezone.data = clinic.timezone
        return render_template("provider/enrol.html", form=form)

    valid = form.validate()
    if not form.email.errors and find_by_email(form.email.data) is not None:
        form.email.errors.append(DUPLICATE_EMAIL)
        valid = False
    if not valid:
        return render_template("provider/enrol.html", form=form), 400
    if current_user.is_admin:
        providers = db.session.scalars(select(User).where(User.id.in_(form.providers.data))).all()
    else:
        providers = [current_user._get_current_object()]
    try:
        patient = enrol_patient(form.email.data, form.first_name.data, form.last_name.data,
                                form.timezone.data, providers, actor=current_user)
    except IntegrityError:  # another request enrolled this address a moment ago
        db.session.rollback()
        form.email.errors.append(DUPLICATE_EMAIL)
        return render_template("provider/enrol.html", form=form), 400
    db.session.commit()
    if try_invitation(patient):
        flash(f"{patient.display_name} is enrolled. We emailed them a link to set up their account.", "info")
    else:
        flash(f"{patient.display_name} is enrolled, but the invitation email could not be sent. "
              "Try “Resend invitation” later.", "error")
    return redirect(url_for("provider.patient", patient_id=patient.id), code=303)


@bp.post("/patients/<int:patient_id>/invite")
def invite(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    if patient.has_password:
        flash("This patient has already set up their account. They can reset a forgotten password "
              "from the sign-in page.", "error")
        return redirect(url_for("provider.patient", patient_id=patient.id), code=303)
    record("patient.invitation_resent", target_type="patient", target_id=patient.id)
    db.session.commit()
    if try_invitation(patient):
        flash(f"We emailed a new invitation link to {patient.email}. Earlier links no longer work.", "info")
    else:
        flash("The invitation email could not be sent. Please try again later.", "error")
    return redirect(url_for("provider.patient", patient_id=patient.id), code=303)


# --- The patient's record.

def _checkins(data: analysis.PatientData, show_all: bool) -> list[tuple[CheckIn, bool]]:
    """The check-ins for the table, newest first, each marked when it has been revised; from
    the rows the analysis already loaded, plus one query for which were revised."""
    since = None if show_all else data.today - timedelta(days=CHECKIN_DAYS - 1)
    shown = [c for c in reversed(data.checkins) if since is None or c.local_date >= since]
    revised = set(db.session.scalars(
        select(CheckInRevision.checkin_id).where(CheckInRevision.checkin_id.in_([c.id for c in shown])).distinct()
    )) if shown else set()
    return [(c, c.id in revised) for c in shown]


@bp.get("/patients/<int:patient_id>")
def patient(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    clinic = get_clinic()
    show_all = request.args.get("checkins") == "all"
    sessions = treatments.treatments_for(patient)
    data = analysis.load_one(patient, with_checkins=True)
    checkins = _checkins(data, show_all)
    page = render_template(
        "provider/patient.html", patient=patient, sessions=sessions, checkins=checkins, show_all=show_all,
        checkin_days=CHECKIN_DAYS, now=utcnow(), tz=clinic.timezone, to_local=to_local, band_for=band_for,
        route_labels=ROUTE_LABELS, items=ITEMS, side_effects=SIDE_EFFECTS, severe=SEVERE_SIDE_EFFECT,
        format_dose=treatments.format_dose, **patient_charts.for_provider(data),
        providers=care_team.active_providers() if current_user.is_admin else None,
    )
    record("patient.viewed", target_type="patient", target_id=patient.id)
    db.session.commit()
    return page


@bp.get("/patients/<int:patient_id>/sessions")
def sessions(patient_id: int):
    # The sessions are listed in full on the patient's page.
    patient = patient_or_404(current_user, patient_id)
    return redirect(url_for("provider.patient", patient_id=patient.id, _anchor="sessions"))


# --- Treatment sessions.

@bp.route("/patients/<int:patient_id>/sessions/new", methods=["GET", "POST"])
def new_session(patient_id: int):
    patient = patient_or_404(current_user, patient_id)
    clinic = get_clinic()
    form = SessionForm(clinic_timezone=clinic.timezone)
    if request.method == "GET":
        form.submission_key.data = secrets.token_urlsafe(16)
        return render_template("provider/session_form.html", form=form, patient=patient, treatment=None)
    if not form.validate():
        if not form.submission_key.data or len(form.submission_key.data) > 64:
            form.submission_key.data = secrets.token_urlsafe(16)
        return render_template("provider/session_form.html", form=form, patient=patient, treatment=None), 400
    result = treatments.record_treatment(
        patient, form.values(), recorded_by=current_user._get_current_object(),
        submission_key=(form.submission_key.data or "")[:64] or None,
    )
    db.session.commit()
    flash("The treatment session is recorded.", "info")
    return redirect(url_for("provider.patient", patient_id=patient.id, _anchor=f"treatment-{result.treatment.id}"),
                    code=303)


@bp.route("/patients/<int:patient_id>/sessions/<int:treatment_id>/edit", methods=["GET", "POST"])
def edit_session(patient_id: int, treatment_id: int):
    patient = patient_or_404(current_user, patient_id)
    treatment = treatments.find_treatment(patient, treatment_id, for_update=request.method == "POST")
    if treatment is None:
        refuse(target_type="treatment", target_id=treatment_id)
    clinic = get_clinic()
    form = SessionForm(clinic_timezone=clinic.timezone)
    del form.submission_key  # saving the same values twice changes nothing
    context = dict(patient=patient, treatment=treatment, revisions=treatments.revisions_of(treatment),
                   tz=clinic.timezone, to_local=to_local, route_labels=ROUTE_LABELS,
                   format_dose=treatments.format_dose)
    if request.method == "GET":
        form.fill_from(treatment, to_local(treatment.administered_at, clinic.timezone))
        page = render_template("provider/session_form.html", form=form, **context)
        record("treatment.viewed", target_type="treatment", target_id=treatment.id)
        db.session.commit()
        return page
    if not form.validate():
        db.session.rollback()  # release the row lock
        return render_template("provider/session_form.html", form=form, **context), 400
    result = treatments.update_treatment(treatment, form.values(), edited_by=current_user._get_current_object())
    db.session.commit()
    flash("The treatment session is updated; the earlier values are kept." if result.outcome == "updated"
          else "Nothing was changed.", "info")
    return redirect(url_for("provider.patient", patient_id=patient.id, _anchor=f"treatment-{treatment.id}"),
                    code=303)


from . import exports, report  # noqa: E402,F401
from . import care_team, status  # noqa: E402,F401
