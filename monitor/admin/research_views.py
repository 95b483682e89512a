"""The research export (issue 12, point 5): the clinic's check-ins, standard GAD-7s and
treatment sessions in one CSV with every patient a random study id and every date a day
since that patient's first session (monitor/research.py). Admins only; audited with every
patient in the file."""
from flask import Response

from .. import audit, research
from ..clinic import get_clinic
from ..extensions import db
from ..timeutil import local_today
from . import bp


# A POST: the first export of a patient makes and stores their study id, and a GET changes nothing.
@bp.post("/exports/research.csv")
def research_export():
    export = research.research_export()
    # The study ids made for this export are kept, so the next export names patients the same.
    db.session.commit()
    audit.after_response("export.research", detail=f"research, {len(export.patient_ids)} patients "
                         f"({export.left_out} without a session left out)", patient_ids=export.patient_ids)
    response = Response(export.text, mimetype="text/csv")
    response.headers["Content-Disposition"] = (
        f'attachment; filename="{research.research_filename(local_today(get_clinic().timezone))}"')
    response.headers["Cache-Control"] = "no-store"  # health data: never kept by a browser or cache
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
