"""The durability report page (SPEC 8): an admin sees the whole clinic, a provider their own
panel. Measures come from monitor.report, figures from monitor.charts.cohort."""
from flask import render_template, request
from flask_login import current_user

from .. import audit, paging, report, stored_analysis
from ..charts.cohort import days_text, percent, report_charts
from . import bp


# Rows of the "benefit duration by patient" table a page: a clinic's whole list is too long.
DURATIONS_PAGE_SIZE = 50


@bp.get("/report", endpoint="report")
def show_report():
    number = paging.page_number(request.args.get("page"))
    try:
        result = report.build(current_user)
    except stored_analysis.FiguresUpdating as updating:
        # After a change of the clinic's settings, until every patient is recomputed.
        return render_template("provider/figures_updating.html", stale=updating.stale), 503, {"Retry-After": "30"}
    durations = paging.list_page(number, len(result.durations), DURATIONS_PAGE_SIZE)
    # The patients shown are the rows of this page of the durations table. The measures and
    # charts are aggregates over the whole panel or clinic: they show no one patient, so the
    # others are counted in the detail, not listed.
    audit.after_response("report.viewed", detail=f"{result.scope}, {result.patients} patients",
                         patient_ids=[row.patient.id for row in durations.of(result.durations)])
    return render_template(
        "provider/report.html", report=result, figures=report_charts(result, report.SIDE_EFFECT_DAYS),
        durations=durations,
        percent=percent, days_text=days_text, adherence_windows=report.ADHERENCE_WINDOWS,
        side_effect_days=report.SIDE_EFFECT_DAYS, wane_by_day=report.WANE_BY_DAY,
    )
