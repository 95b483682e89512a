"""The audit log, on screen and as CSV (SPEC 6). Reading the log is itself audited:
`audit.viewed` for a page, `export.audit` for a file."""
from flask import Response, render_template, request

from .. import audit
from ..timeutil import utcnow
from . import audit_log, bp


@bp.get("/audit", endpoint="audit")
def show_audit():
    filters = audit_log.parse_filters(request.args)
    result = audit_log.page_of(filters, audit_log.parse_page(request.args.get("page")))
    audit.after_response("audit.viewed", detail=f"page {result.page} of {result.pages}; {filters.describe()}")
    return render_template("admin/audit.html", filters=filters, result=result, utc_text=audit_log.utc_text)


@bp.get("/audit.csv")
def audit_csv():
    filters = audit_log.parse_filters(request.args)
    rows, shown = audit_log.all_events(filters)
    text = audit_log.audit_csv(rows, shown)
    audit.after_response("export.audit", detail=f"{len(rows)} events; {filters.describe()}")
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="audit-{utcnow().date().isoformat()}.csv"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
