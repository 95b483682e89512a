"""Staff pages (SPEC 6): the triage dashboard (dashboard_views.py), a patient's record, enrolment
and care team (patient_views.py), treatment sessions (treatment_views.py), CSV downloads
(export_views.py) and the durability report (report_views.py).

Every patient is looked up through access.patient_or_404, and every view or change of a
patient's data is audited."""
from flask import Blueprint
from flask_login import current_user, login_required

from ..access import refuse

bp = Blueprint("provider", __name__)


@bp.before_request
@login_required
def staff_only():
    # Patients have no staff pages: answer as if the address did not exist.
    if not current_user.is_staff:
        refuse()


from . import dashboard_views, export_views, patient_views, report_views, treatment_views  # noqa: E402,F401
