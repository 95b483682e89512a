"""The durability report page (SPEC 8): an admin sees the whole clinic, a provider their own
panel. Measures come from monitor.report, figures from monitor.charts.cohort."""
from flask import render_template
from flask_login import current_user

from .. import report as measures
from ..audit import record
from ..charts.cohort import days_text, percent, report_charts
from ..extensions import db
from .views import bp


@bp.get("/report")
def report():
    result = measures.build(current_user)
    page = render_template(
        "provider/report.html", report=result, figures=report_charts(result, measures.SIDE_EFFECT_DAYS),
        percent=percent, days_text=days_text, adherence_windows=measures.ADHERENCE_WINDOWS,
        side_effect_days=measures.SIDE_EFFECT_DAYS, wane_by_day=measures.WANE_BY_DAY,
    )
    # Commit after rendering: a commit expires every loaded row (see provider.panel).
    record("report.viewed", detail=f"{result.scope}, {result.patients} patients")
    db.session.commit()
    return page
