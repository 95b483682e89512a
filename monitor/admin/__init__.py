"""Admin pages (SPEC 6): the audit log (audit_views.py), the clinic's settings and the staff
accounts (clinic_views.py). Only admins; everyone else signed in gets the app's usual 404,
and the refusal is audited."""
from flask import Blueprint
from flask_login import current_user, login_required

from ..access import refuse

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.before_request
@login_required
def admins_only():
    if not current_user.is_admin:
        refuse()


from . import audit_views, clinic_views, research_views  # noqa: E402,F401  (they register their routes on bp)
