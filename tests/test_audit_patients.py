"""Lists of patients are audited with the ids of the patients they showed (issue 10, point 8):
a dashboard page, a page of the report's table and a clinic export each write one event whose
listed patients are exactly those on the page or in the file, and the audit viewer's patient
filter answers "who saw patient X" from the log alone."""
import csv
import io
import re

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DatabaseError

from monitor import audit
from monitor.extensions import db
from monitor.models import AuditEventPatient
from tests.factories import (
    NOW, add_audit_event, add_checkin, add_patient, add_treatment, at_local, counted_queries, day, events,
    listed_patients, login,
)


def dashboard_ids(page: str) -> list[int]:
    """The patients whose rows a dashboard page rendered, top to bottom."""
    return [int(i) for i in re.findall(r'<tr id="patient-(\d+)">', page)]


def report_table_ids(page: str) -> list[int]:
    """The patients named in the report's "benefit duration by patient" table."""
    table = page.split('<h2 id="patients">', 1)[1].split("</table>", 1)[0]
    return [int(i) for i in re.findall(r'href="/patients/(\d+)"', table)]


def csv_rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


@pytest.fixture
def panel(users, monkeypatch):
    """provider_a's panel of five (patient_a and four more), each with a session, two a page
    on the dashboard and in the report's table."""
    from monitor import dashboard
    from monitor.provider import report_views
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 2)
    monkeypatch.setattr(report_views, "DURATIONS_PAGE_SIZE", 2)
    people = [users.patient_a] + [add_patient(f"p{n}@example.test", last_name=f"Panel{n}", providers=[users.provider_a])
                                  for n in range(4)]
    for person in people:
        add_treatment(person, at_local(day(-3)))
        add_checkin(person, day(-1), 9)
    return people


@pytest.fixture
def admin(app, users):
    client = app.test_client()
    login(client, users.admin)
    return client


# --- What is recorded.

def test_each_dashboard_page_records_exactly_the_patients_it_rendered(client, users, panel):
    login(client, users.provider_a)
    first = dashboard_ids(client.get("/patients").get_data(as_text=True))
    second = dashboard_ids(client.get("/patients?page=2").get_data(as_text=True))
    assert len(first) == len(second) == 2 and not set(first) & set(second)
    one, two = events("dashboard.viewed")
    assert listed_patients(one) == sorted(first)
    assert listed_patients(two) == sorted(second)
    assert (one.detail, two.detail) == ("2 of 5 patients, page 1 of 3", "2 of 5 patients, page 2 of 3")


def test_a_filtered_dashboard_records_its_rows_but_not_which_flag(client, users, panel):
    add_checkin(panel[1], day(0), 21)  # severe today: the "severe" flag on one row only
    login(client, users.provider_a)
    page = client.get("/patients?flag=severe").get_data(as_text=True)
    [event] = events("dashboard.viewed")
    assert listed_patients(event) == sorted(dashboard_ids(page)) == [panel[1].id]
    assert "severe" not in event.detail and event.detail.endswith("flag filter")


def test_an_empty_dashboard_page_records_no_patients(client, users):
    login(client, users.provider_b)
    client.post("/patients/search", data={"q": "nobody by this name"})
    client.get("/patients")
    [event] = events("dashboard.viewed")
    assert listed_patients(event) == []


def test_a_report_page_records_the_patients_of_its_table_only(client, users, panel):
    lonely = add_patient("nosessions@example.test", last_name="Aardvark", providers=[users.provider_a])
    login(client, users.provider_a)
    first = report_table_ids(client.get("/report").get_data(as_text=True))
    last = report_table_ids(client.get("/report?page=3").get_data(as_text=True))
    past_the_end = report_table_ids(client.get("/report?page=9").get_data(as_text=True))  # the last page
    one, three, nine = events("report.viewed")
    assert (len(first), len(last)) == (2, 1)
    assert listed_patients(one) == sorted(first)
    assert listed_patients(three) == listed_patients(nine) == sorted(last) == sorted(past_the_end)
    # The measures cover all six on the panel (counted in the detail), the table only those
    # with sessions: the patient without any is counted, never listed.
    assert one.detail == "panel, 6 patients"
    assert lonely.id not in listed_patients(one) + listed_patients(three)


@pytest.mark.parametrize("kind", ["durability", "checkins", "treatments"])
def test_a_clinic_export_is_one_event_listing_every_patient_in_the_file(client, users, panel, kind):
    login(client, users.provider_a)
    rows = csv_rows(client.get(f"/exports/{kind}.csv").get_data(as_text=True))
    by_email = {p.email: p.id for p in panel}
    in_file = {by_email[r["patient_email"]] for r in rows}
    [event] = events(f"export.{kind}")
    assert (event.target_type, event.target_id, event.detail) == (None, None, "all visible patients (5)")
    assert listed_patients(event) == sorted(in_file) == sorted(by_email.values())
    assert users.patient_b.id not in listed_patients(event)


def test_an_admins_export_lists_the_whole_clinic(client, users, panel):
    login(client, users.admin)
    client.get("/exports/checkins.csv")
    [event] = events("export.checkins")
    assert listed_patients(event) == sorted([p.id for p in panel] + [users.patient_b.id])


def test_one_patients_page_and_export_are_audited_with_the_patient_as_target(client, users):
    login(client, users.provider_a)
    client.get(f"/patients/{users.patient_a.id}")
    client.get(f"/patients/{users.patient_a.id}/export/checkins.csv")
    for action in ("patient.viewed", "export.checkins"):
        [event] = events(action)
        assert (event.target_type, event.target_id) == ("patient", users.patient_a.id)


def test_listed_ids_are_stored_once_each_in_no_order_of_the_page(app, users):
    with app.test_request_context():
        audit.record("test.listed", patient_ids=[9, 3, 9, 5])
        db.session.commit()
    [event] = events("test.listed")
    assert listed_patients(event) == [3, 5, 9]


def test_a_failed_page_stores_no_listed_patients(app, users):
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/test/broken-list")
    def broken():
        audit.after_response("test.listed", patient_ids=[users.patient_a.id])
        raise RuntimeError("failed before it was shown")

    assert app.test_client().get("/test/broken-list").status_code == 500
    assert events() == [] and db.session.query(AuditEventPatient).count() == 0


def test_the_dashboard_writes_its_listed_patients_in_one_statement(client, users, panel, monkeypatch):
    from monitor import dashboard
    monkeypatch.setattr(dashboard, "PAGE_SIZE", 50)  # every row of the panel on one page
    login(client, users.provider_a)
    client.get("/patients")
    db.session.expire_all()
    with counted_queries() as statements:
        assert client.get("/patients").status_code == 200
    inserts = [s for s in statements if "INSERT INTO audit_event_patients" in s]
    assert len(inserts) == 1
    assert listed_patients(events("dashboard.viewed")[-1]) == sorted(p.id for p in panel)


# --- Append-only, like audit_events (migration 0011's triggers).

@pytest.mark.parametrize("statement", [
    update(AuditEventPatient).values(patient_id=999),
    delete(AuditEventPatient),
])
def test_listed_patients_cannot_be_changed_or_deleted(app, users, statement):
    with app.test_request_context():
        audit.record("test.listed", patient_ids=[users.patient_a.id, users.patient_b.id])
        db.session.commit()
    with pytest.raises(DatabaseError, match="audit_event_patients is append-only"):
        db.session.execute(statement)
        db.session.commit()
    db.session.rollback()
    assert listed_patients(events("test.listed")[0]) == sorted([users.patient_a.id, users.patient_b.id])


# --- The viewer's patient filter.

def filtered(admin, query: str) -> list[dict]:
    """The events of the audit log's CSV under this filter, newest first."""
    response = admin.get(f"/admin/audit.csv?{query}")
    assert response.status_code == 200
    return csv_rows(response.get_data(as_text=True))


def test_the_patient_filter_finds_the_lists_that_showed_them_and_no_others(client, admin, users, panel):
    login(client, users.provider_a)
    on_first = dashboard_ids(client.get("/patients").get_data(as_text=True))
    on_second = dashboard_ids(client.get("/patients?page=2").get_data(as_text=True))
    client.get("/report")
    client.get("/exports/checkins.csv")
    x = on_second[0]  # on the second dashboard page, not the first
    found = filtered(admin, f"patient={x}")
    assert [(r["action"], r["detail"]) for r in found if r["action"] == "dashboard.viewed"] == [
        ("dashboard.viewed", "2 of 5 patients, page 2 of 3")]
    assert "export.checkins" in [r["action"] for r in found]
    in_report = x in listed_patients(events("report.viewed")[0])
    assert ("report.viewed" in [r["action"] for r in found]) == in_report
    for row in found:
        if row["patient_ids"]:
            assert str(x) in row["patient_ids"].split()
    # Someone on the first page only: that page's event, not the second's.
    y = on_first[0]
    assert [r["detail"] for r in filtered(admin, f"patient={y}") if r["action"] == "dashboard.viewed"] == [
        "2 of 5 patients, page 1 of 3"]
    # patient_b is on no list provider_a saw.
    assert filtered(admin, f"patient={users.patient_b.id}&actor={users.provider_a.id}") == []


def test_the_patient_filter_finds_events_targeting_the_patient_their_account_and_sessions(app, client, admin, users):
    own = add_treatment(users.patient_a, at_local(day(-2)), recorded_by=users.provider_a)
    other = add_treatment(users.patient_b, at_local(day(-2)), recorded_by=users.provider_b)
    login(client, users.provider_a)
    client.get(f"/patients/{users.patient_a.id}")
    client.get(f"/patients/{users.patient_a.id}/treatments/{own.id}/edit")
    client.get(f"/patients/{users.patient_b.id}")  # refused: not on the panel
    client.get(f"/patients/{users.patient_a.id}/treatments/{other.id}/edit")  # refused: another's session
    login(app.test_client(), users.patient_a)  # the patient's own sign-in targets their account
    found = {(r["action"], r["target_type"], r["target_id"]) for r in filtered(admin, f"patient={users.patient_a.id}")}
    assert found == {
        ("treatment.created", "treatment", str(own.id)),
        ("patient.viewed", "patient", str(users.patient_a.id)),
        ("treatment.viewed", "treatment", str(own.id)),
        ("login", "user", str(users.patient_a.id)),
    }
    found_b = {(r["action"], r["target_type"], r["target_id"])
               for r in filtered(admin, f"patient={users.patient_b.id}")}
    assert found_b == {
        ("treatment.created", "treatment", str(other.id)),
        ("access.refused", "patient", str(users.patient_b.id)),
        ("access.refused", "treatment", str(other.id)),
    }


def test_the_patient_filter_combines_with_the_others(admin, users):
    x = users.patient_a.id
    add_audit_event("dashboard.viewed", actor=users.provider_a, patient_ids=[x, users.patient_b.id])
    add_audit_event("dashboard.viewed", actor=users.provider_b, patient_ids=[x])
    add_audit_event("report.viewed", actor=users.provider_a, patient_ids=[x],
                    at=NOW.replace(year=2025))
    add_audit_event("dashboard.viewed", actor=users.provider_a, patient_ids=[users.patient_b.id])
    rows = filtered(admin, f"patient={x}&actor={users.provider_a.id}&action=dashboard")
    assert [(r["actor_id"], r["patient_ids"]) for r in rows] == [
        (str(users.provider_a.id), f"{min(x, users.patient_b.id)} {max(x, users.patient_b.id)}")]
    assert [r["action"] for r in filtered(admin, f"patient={x}&from=2026-01-01")] == [
        "dashboard.viewed", "dashboard.viewed"]


def test_the_patient_filter_pages_fifty_at_a_time_and_the_pager_keeps_it(admin, users):
    x = users.patient_a.id
    for n in range(60):
        add_audit_event(f"bulk.{n:03d}", patient_ids=[x] if n % 2 == 0 else [users.patient_b.id])
    for n in range(50):
        add_audit_event(f"single.{n:03d}", target_type="patient", target_id=x)
    first = admin.get(f"/admin/audit?patient={x}").get_data(as_text=True)
    assert "80 events; page 1 of 2." in first
    assert f'href="/admin/audit?page=2&amp;patient={x}"' in first
    second = admin.get(f"/admin/audit?patient={x}&page=2").get_data(as_text=True)
    shown = re.findall(r'<td><a href="/admin/audit\?action=[^"]*">([^<]*)</a></td>', second)
    assert shown == [f"bulk.{n:03d}" for n in range(58, -1, -2)]


def test_the_viewer_shows_how_many_patients_a_list_showed_and_marks_the_one_filtered_by(admin, users):
    add_audit_event("dashboard.viewed", actor=users.provider_a, patient_ids=[users.patient_a.id, users.patient_b.id])
    page = admin.get("/admin/audit").get_data(as_text=True)
    assert "<summary>2 patients</summary>" in page
    assert f"#{users.patient_a.id} #{users.patient_b.id}" in page
    filtered_page = admin.get(f"/admin/audit?patient={users.patient_b.id}").get_data(as_text=True)
    assert f"<summary>2 patients, #{users.patient_b.id} among them</summary>" in filtered_page
    assert "1 event; page 1 of 1." in filtered_page


def test_viewing_the_log_by_patient_is_audited_with_the_filter(admin, users):
    admin.get(f"/admin/audit?patient={users.patient_a.id}")
    [viewed] = events("audit.viewed")
    assert viewed.detail == f"page 1 of 1; patient={users.patient_a.id}"
    assert listed_patients(viewed) == []  # reading the trail is not seeing the patient's data


@pytest.mark.parametrize("value", [
    "abc", "12abc", "-3", "0", "1.5", "1e3", "٣", "１２", "²", "99999999999999999999", "2147483648",
    "alice%40example.test", "%00", "12%0A13",
])
def test_an_unreadable_patient_id_is_explained_and_ignored(admin, users, value):
    add_audit_event("kept.event", target_type="patient", target_id=users.patient_a.id)
    response = admin.get(f"/admin/audit?patient={value}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "The patient id must be a whole number such as 12; that filter is ignored." in page
    assert "kept.event" in page  # the other filters (none here) still apply
    csv_response = admin.get(f"/admin/audit.csv?patient={value}")
    assert csv_response.status_code == 200
    assert "kept.event" in [r["action"] for r in csv_rows(csv_response.get_data(as_text=True))]


def test_a_patient_id_that_names_no_one_finds_nothing(admin, users):
    add_audit_event("kept.event", target_type="patient", target_id=users.patient_a.id)
    page = admin.get("/admin/audit?patient=2147483647").get_data(as_text=True)
    assert "No events match." in page and "must be a whole number" not in page


@pytest.mark.parametrize("role", ["patient_a", "provider_a", "provider_b"])
def test_only_admins_can_filter_the_log_by_patient(app, users, role):
    add_audit_event("dashboard.viewed", actor=users.provider_a, patient_ids=[users.patient_a.id])
    client = app.test_client()
    login(client, getattr(users, role))
    for path in ("/admin/audit", "/admin/audit.csv"):
        response = client.get(f"{path}?patient={users.patient_a.id}")
        assert response.status_code == 404
        assert b"dashboard.viewed" not in response.data


def test_the_csv_lists_each_events_patients(admin, users):
    add_audit_event("report.viewed", patient_ids=[users.patient_b.id, users.patient_a.id])
    add_audit_event("login")
    rows = {r["action"]: r["patient_ids"] for r in filtered(admin, "")}
    assert rows["report.viewed"] == " ".join(str(i) for i in sorted([users.patient_a.id, users.patient_b.id]))
    assert rows["login"] == ""


def test_no_name_email_or_health_information_is_stored_for_a_listed_patient(client, users, panel):
    add_checkin(panel[1], day(0), 21, note="panic at night")
    login(client, users.provider_a)
    client.get("/patients?flag=severe")
    client.get("/report")
    client.get("/exports/checkins.csv")
    words = ["alice", "archer", "@", "severe", "panic", "21"] + [f"panel{n}" for n in range(4)]
    for event in events():
        text = " ".join(str(v) for v in (event.action, event.target_type, event.detail) if v).lower()
        assert not [w for w in words if w in text], text
    # A listed patient is two numbers: the event and the patient.
    assert set(AuditEventPatient.__table__.columns.keys()) == {"event_id", "patient_id"}


def test_the_patient_filter_reads_indexes_not_the_whole_log(app, users):
    """A year of a clinic's log is some 200k events and millions of listed ids
    (benchmarks/audit_log.py): the filter looks them up, on SQLite by the plan's own account.
    (PostgreSQL's planner chooses by the tables' statistics; the benchmark covers it.)"""
    from monitor.admin import audit_log
    if db.engine.dialect.name != "sqlite":
        pytest.skip("the plan asserted is SQLite's")
    f = audit_log.parse_filters({"patient": str(users.patient_a.id)})
    for statement in (audit_log._events(f).limit(50), audit_log._filtered(
            audit_log.select(audit_log.func.count()).select_from(audit_log.AuditEvent), f)):
        sql = str(statement.compile(db.engine, compile_kwargs={"literal_binds": True}))
        plan = [row[3] for row in db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
        scans = [step for step in plan if step.startswith("SCAN") and "audit_event" in step]
        assert scans == [], plan
