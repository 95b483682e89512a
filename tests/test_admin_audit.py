"""The audit log viewer (SPEC 6): admins only, newest first, 50 a page, filters that carry no
health information, a CSV download, and reading the log is itself audited."""
import csv
import io
import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.factories import NOW, add_audit_event, events, login


def shown_actions(page: str) -> list[str]:
    """The action column of the table, top to bottom."""
    body = page.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in page else ""
    return re.findall(r'<td><a href="/admin/audit\?action=[^"]*">([^<]*)</a></td>', body)


def csv_rows(response) -> list[dict]:
    return list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))


@pytest.fixture
def admin(app, users):
    client = app.test_client()
    login(client, users.admin)
    return client


# --- Who may read it.

@pytest.mark.parametrize("role", ["patient_a", "provider_a", "provider_b"])
@pytest.mark.parametrize("path", ["/admin/audit", "/admin/audit.csv"])
def test_anyone_but_an_admin_gets_404_and_the_refusal_is_audited(app, users, role, path):
    client = app.test_client()
    login(client, getattr(users, role))
    response = client.get(path)
    assert response.status_code == 404
    assert b"Audit log" not in response.data
    refused = events("access.refused")
    assert [(e.actor_id, e.detail) for e in refused] == [(getattr(users, role).id, f"GET {path}")]
    assert events("audit.viewed") == events("export.audit") == []


@pytest.mark.parametrize("path", ["/admin/audit", "/admin/audit.csv"])
def test_signed_out_visitors_are_sent_to_sign_in(client, users, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login")


# --- The page.

def test_events_are_listed_newest_first_with_time_actor_target_ip_and_detail(admin, users):
    add_audit_event("old.event", at=NOW - timedelta(days=2), actor=users.provider_a, target_type="patient",
                    target_id=users.patient_a.id, ip="203.0.113.9", detail="first")
    add_audit_event("new.event", at=NOW - timedelta(hours=1), actor=users.provider_b)
    page = admin.get("/admin/audit").get_data(as_text=True)
    actions = shown_actions(page)
    assert actions.index("new.event") < actions.index("old.event")
    assert "2026-11-24T15:00:00Z" in page
    assert "pa@clinic.test" in page and f"#{users.provider_a.id}" in page
    assert f"patient #{users.patient_a.id}" in page
    assert "203.0.113.9" in page and "first" in page


def test_events_of_the_same_instant_are_newest_written_first(admin, users):
    for n in range(3):
        add_audit_event(f"same.{n}")
    assert [a for a in shown_actions(admin.get("/admin/audit").get_data(as_text=True))
            if a.startswith("same.")] == ["same.2", "same.1", "same.0"]


def test_emails_are_shown_but_never_put_in_a_link(admin, users):
    add_audit_event("patient.viewed", actor=users.provider_a, target_type="patient", target_id=users.patient_a.id)
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "pa@clinic.test" in page
    hrefs = re.findall(r'href="([^"]*)"', page)
    assert hrefs and not [h for h in hrefs if "@" in h or "%40" in h]
    assert f'href="/admin/audit?actor={users.provider_a.id}"' in page


def test_fifty_events_a_page_and_the_next_page_continues(admin, users):
    for n in range(120):
        add_audit_event(f"bulk.{n:03d}")
    first = shown_actions(admin.get("/admin/audit?action=bulk").get_data(as_text=True))
    third = shown_actions(admin.get("/admin/audit?action=bulk&page=3").get_data(as_text=True))
    assert first == [f"bulk.{n:03d}" for n in range(119, 69, -1)]
    assert third == [f"bulk.{n:03d}" for n in range(19, -1, -1)]


@pytest.mark.parametrize("page", ["", "0", "-1", "abc", "1.5", "1e3", "٣", "99999999999999999999", "9999", " "])
def test_an_unreadable_or_missing_page_number_shows_page_one(admin, users, page):
    for n in range(60):
        add_audit_event(f"bulk.{n:03d}")
    response = admin.get(f"/admin/audit?action=bulk&page={page}")
    assert response.status_code == 200
    assert shown_actions(response.get_data(as_text=True))[0] == "bulk.059"


def test_the_pager_keeps_the_filters(admin, users):
    for n in range(60):
        add_audit_event(f"bulk.{n:03d}", actor=users.provider_a)
    page = admin.get(f"/admin/audit?action=bulk&actor={users.provider_a.id}").get_data(as_text=True)
    assert f'href="/admin/audit?page=2&amp;action=bulk&amp;actor={users.provider_a.id}"' in page


# --- Filters.

def test_action_filter_matches_exactly_or_as_a_dotted_prefix(admin, users):
    for action in ("login", "login.failed", "loginx", "logout", "export.checkins"):
        add_audit_event(action, actor=users.provider_b)
    def shown(action):
        page = admin.get(f"/admin/audit?action={action}&actor={users.provider_b.id}").get_data(as_text=True)
        return sorted(shown_actions(page))
    assert shown("login") == ["login", "login.failed"]
    assert shown("login.failed") == ["login.failed"]


def test_an_underscore_in_the_action_filter_is_not_a_wildcard(admin, users):
    add_audit_event("account.password_set.invitation")
    add_audit_event("account.passwordXset.invitation")
    assert shown_actions(admin.get("/admin/audit?action=account.password_set").get_data(as_text=True)) == [
        "account.password_set.invitation"]


def test_actor_and_target_filters(admin, users):
    add_audit_event("x.a", actor=users.provider_a, target_type="patient", target_id=users.patient_a.id)
    add_audit_event("x.b", actor=users.provider_b, target_type="patient", target_id=users.patient_b.id)
    add_audit_event("x.c", actor=users.provider_a, target_type="treatment", target_id=users.patient_a.id)
    def shown(query):
        return sorted(a for a in shown_actions(admin.get(f"/admin/audit?action=x&{query}").get_data(as_text=True)))
    assert shown(f"actor={users.provider_a.id}") == ["x.a", "x.c"]
    assert shown("target_type=patient") == ["x.a", "x.b"]
    assert shown(f"target_type=patient&target_id={users.patient_a.id}") == ["x.a"]
    assert shown(f"target_id={users.patient_a.id}") == ["x.a", "x.c"]


def test_date_filters_are_whole_utc_days_inclusive(admin, users):
    add_audit_event("d.before", at=datetime(2026, 11, 19, 23, 59, 59, tzinfo=timezone.utc))
    add_audit_event("d.first", at=datetime(2026, 11, 20, 0, 0, 0, tzinfo=timezone.utc))
    add_audit_event("d.last", at=datetime(2026, 11, 21, 23, 59, 59, tzinfo=timezone.utc))
    add_audit_event("d.after", at=datetime(2026, 11, 22, 0, 0, 0, tzinfo=timezone.utc))
    page = admin.get("/admin/audit?action=d&from=2026-11-20&to=2026-11-21").get_data(as_text=True)
    assert shown_actions(page) == ["d.last", "d.first"]
    assert shown_actions(admin.get("/admin/audit?action=d&from=2026-11-22").get_data(as_text=True)) == ["d.after"]
    assert shown_actions(admin.get("/admin/audit?action=d&to=2026-11-19").get_data(as_text=True)) == ["d.before"]


@pytest.mark.parametrize("query, message", [
    ("from=2026-13-01", "“from” date must be a date"),
    ("to=yesterday", "“to” date must be a date"),
    ("from=2026-11-22&to=2026-11-20", "both date filters are ignored"),
    ("actor=alice%40example.test", "actor id must be a whole number"),
    ("actor=-3", "actor id must be a whole number"),
    ("target_id=99999999999999999999", "target id must be a whole number"),
    ("action=%3Cscript%3E", "action may hold only"),
    ("target_type=pa+tient", "target type may hold only"),
])
def test_an_unreadable_filter_is_explained_and_ignored(admin, users, query, message):
    add_audit_event("kept.event", actor=users.provider_a, target_type="patient", target_id=users.patient_a.id)
    response = admin.get(f"/admin/audit?{query}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert message in page
    assert "kept.event" in shown_actions(page)
    assert "<script>" not in page


# --- Audited.

def test_viewing_the_log_is_audited_with_the_filters_used(admin, users):
    admin.get(f"/admin/audit?action=login&actor={users.provider_a.id}&page=1")
    viewed = events("audit.viewed")
    assert [(e.actor_id, e.detail) for e in viewed] == [
        (users.admin.id, f"page 1 of 1; action=login, actor={users.provider_a.id}")]


# --- CSV.

def test_csv_download_has_the_filtered_events_and_is_an_uncached_attachment(admin, users):
    add_audit_event("x.a", actor=users.provider_a, target_type="patient", target_id=users.patient_a.id,
                    ip="203.0.113.9", detail="seen")
    add_audit_event("y.b", actor=users.provider_b)
    response = admin.get(f"/admin/audit.csv?actor={users.provider_a.id}&action=x")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="audit-2026-11-26.csv"'
    assert response.headers["Cache-Control"] == "no-store"
    assert csv_rows(response) == [{
        "at_utc": "2026-11-26T15:00:00Z", "actor_id": str(users.provider_a.id), "actor_email": "pa@clinic.test",
        "action": "x.a", "target_type": "patient", "target_id": str(users.patient_a.id), "ip": "203.0.113.9",
        "detail": "seen", "patient_ids": ""}]


def test_csv_holds_every_matching_event_not_one_page(admin, users):
    for n in range(120):
        add_audit_event(f"bulk.{n:03d}")
    rows = csv_rows(admin.get("/admin/audit.csv?action=bulk"))
    assert [r["action"] for r in rows] == [f"bulk.{n:03d}" for n in range(119, -1, -1)]


def test_csv_download_is_audited_as_an_export(admin, users):
    add_audit_event("x.a")
    admin.get("/admin/audit.csv?action=x")
    exported = events("export.audit")
    assert [(e.actor_id, e.detail) for e in exported] == [(users.admin.id, "1 events; action=x")]
    assert events("audit.viewed") == []


def test_csv_cells_that_start_like_a_formula_are_quoted(admin, users):
    for detail in ("=HYPERLINK(\"http://x\")", "+1", "-1", "@SUM(A1)"):
        add_audit_event("f.x", detail=detail)
    details = sorted(r["detail"] for r in csv_rows(admin.get("/admin/audit.csv?action=f")))
    assert details == sorted(["'=HYPERLINK(\"http://x\")", "'+1", "'-1", "'@SUM(A1)"])
