"""The patient's pages (views.py): the daily check-in, its confirmation, their own history,
and settings. Only patients; anyone else signed in gets the app's usual 404, audited."""
from flask import Blueprint
from flask_login import current_user, login_required

from ..access import refuse

bp = Blueprint("patient", __name__)


@bp.before_request
@login_required
def patients_only():
    # Staff have no check-in of their own; their patient views live under /patients.
    if not current_user.is_patient:
        refuse()


from . import record_views, views  # noqa: E402,F401  (they register their routes on bp)
