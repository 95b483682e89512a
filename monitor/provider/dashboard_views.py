"""The triage dashboard (GET /patients) and its name search. The rows, flags and order come
from monitor.dashboard."""
from flask import redirect, render_template, request, session, url_for
from flask_login import current_user

from .. import audit, dashboard, paging
from . import bp

# The name searched for is kept in the session, on the server (session_store.py), never in a
# URL or a cookie: addresses end up in logs and browser history, and a patient's name is
# health information.
SEARCH = "dashboard_search"


def _search() -> str:
    saved = session.get(SEARCH)
    # Keyed by account, so the next person to sign in on a shared computer does not inherit it.
    if isinstance(saved, dict) and saved.get("user") == current_user.id:
        return saved.get("text") or ""
    return ""


# Endpoint "provider.dashboard"; the function has another name so as not to hide the module.
@bp.get("/patients", endpoint="dashboard")
def show_dashboard():
    page = paging.page_number(request.args.get("page"))
    shown = dashboard.build(current_user, flag=request.args.get("flag"), search=_search(), page=page)
    # The search text is a name: it stays out of the audit log. So does the flag's name: next to
    # the ids of the patients shown it would record which of them were lapsed or rising.
    detail = f"{len(shown.rows)} of {shown.total} patients"
    if shown.pages > 1:
        detail += f", page {shown.page} of {shown.pages}"
    if shown.flag:
        detail += ", flag filter"
    if shown.search:
        detail += ", name search"
    audit.after_response("dashboard.viewed", detail=detail, patient_ids=[row.patient.id for row in shown.rows])
    return render_template("provider/dashboard.html", dashboard=shown, page_size=dashboard.PAGE_SIZE)


@bp.post("/patients/search")
def dashboard_search():
    text = "" if "clear" in request.form else dashboard.clean_search(request.form.get("q"))
    if text:
        session[SEARCH] = {"user": current_user.id, "text": text}
    else:
        session.pop(SEARCH, None)
    flag = request.form.get("flag")
    return redirect(url_for("provider.dashboard", flag=flag if flag in dashboard.FLAG_BY_KEY else None),
                    code=303)
