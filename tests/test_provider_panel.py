"""The provider's panel: who is on it, what each row says, and that it costs a fixed number of queries."""
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal

from sqlalchemy import event, select

from monitor.extensions import db
from monitor.models import AuditEvent, CheckIn, Treatment
from monitor.panel import panel_rows
from tests.conftest import NOW, login, make_user


def add_checkin(patient, day: date, total: int, **extra) -> CheckIn:
    """A check-in whose seven answers add up to total."""
    answers = {}
    left = total
    for n in range(1, 8):
        answers[f"q{n}"] = min(3, left)
        left -= answers[f"q{n}"]
    assert left == 0
    checkin = CheckIn(patient_id=patient.id, local_date=day, total=total, submitted_at=NOW, **answers, **extra)
    db.session.add(checkin)
    db.session.commit()
    return checkin


def add_treatment(patient, at: datetime, dose="50") -> Treatment:
    treatment = Treatment(patient_id=patient.id, administered_at=at, route="lozenge", dose_mg=Decimal(dose))
    db.session.add(treatment)
    db.session.commit()
    return treatment


def row_for(rows, patient):
    [row] = [r for r in rows if r.patient.id == patient.id]
    return row


def test_provider_sees_own_patients_only(client, users):
    login(client, users.provider_a)
    response = client.get("/patients")
    assert response.status_code == 200
    assert b"Archer, Alice" in response.data
    assert b"Baker" not in response.data


def test_admin_sees_every_patient_with_their_providers(client, users):
    login(client, users.admin)
    response = client.get("/patients")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Archer, Alice" in page and "Baker, Bob" in page
    assert "Paula Avery" in page and "Peter Brook" in page


def test_rows_show_latest_total_band_and_days_since_last_past_session(app, users):
    patient = users.patient_a
    add_checkin(patient, date(2026, 11, 20), 3)
    add_checkin(patient, date(2026, 11, 25), 16)
    add_treatment(patient, datetime(2026, 11, 18, 15, 0, tzinfo=timezone.utc))
    add_treatment(patient, datetime(2026, 11, 22, 15, 0, tzinfo=timezone.utc))
    add_treatment(patient, datetime(2026, 11, 28, 15, 0, tzinfo=timezone.utc))  # planned: not "since"

    row = row_for(panel_rows(users.provider_a), patient)

    assert row.last_checkin_date == date(2026, 11, 25)
    assert row.latest.total == 16
    assert row.band.key == "severe"
    assert row.days_since_session == 4
    assert row.severe_side_effect is False
    assert row.invitation_pending is False


def test_row_without_data_says_so(client, users):
    login(client, users.provider_a)
    page = client.get("/patients").get_data(as_text=True)
    assert "No check-ins" in page
    assert "No sessions" in page


def test_days_since_session_count_the_patients_calendar_days(app, users):
    patient = make_user("patient", "la@example.test", first_name="Lee", last_name="Angel",
                        timezone="America/Los_Angeles", providers=[users.provider_a])
    # 02:00 UTC on the 26th is 18:00 on the 25th in Los Angeles; now it is 07:00 on the 26th there.
    add_treatment(patient, datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc))

    assert row_for(panel_rows(users.provider_a), patient).days_since_session == 1


def test_page_shows_the_row_values(client, users):
    add_checkin(users.patient_a, date(2026, 11, 25), 12)
    add_treatment(users.patient_a, datetime(2026, 11, 23, 15, 0, tzinfo=timezone.utc))
    login(client, users.provider_a)
    page = client.get("/patients").get_data(as_text=True)
    row = page[page.index('id="patient-%d"' % users.patient_a.id):]
    row = row[:row.index("</tr>")]
    assert "Wed 25 Nov 2026" in row
    assert '<td class="num">12</td>' in row
    assert "band-moderate" in row
    assert '<td class="num">3</td>' in row
    assert "Active" in row


def test_severe_side_effect_on_latest_checkin_is_marked(client, users):
    add_checkin(users.patient_a, date(2026, 11, 25), 5, se_nausea=3)
    login(client, users.provider_a)
    assert "Severe side effect" in client.get("/patients").get_data(as_text=True)


def test_severe_side_effect_on_an_older_checkin_is_not_marked(client, users):
    add_checkin(users.patient_a, date(2026, 11, 24), 5, se_nausea=3)
    add_checkin(users.patient_a, date(2026, 11, 25), 5, se_nausea=1)
    login(client, users.provider_a)
    assert "Severe side effect" not in client.get("/patients").get_data(as_text=True)


def test_invitation_pending_and_status_are_shown(client, users):
    make_user("patient", "new@example.test", first_name="Nina", last_name="Newcomb", password=False,
              providers=[users.provider_a])
    users.patient_a.status = "paused"
    db.session.commit()
    login(client, users.provider_a)
    page = client.get("/patients").get_data(as_text=True)
    newcomb = page[page.index("Newcomb"):]
    assert "invitation pending" in newcomb[:newcomb.index("</tr>")]
    archer = page[page.index("Archer"):]
    assert "invitation pending" not in archer[:archer.index("</tr>")]
    assert "Paused" in archer[:archer.index("</tr>")]


def test_rows_are_ordered_by_last_name(client, users):
    for last in ("Zeller", "baxter", "Moss"):
        make_user("patient", f"{last.lower()}@example.test", first_name="P", last_name=last,
                  providers=[users.provider_a])
    login(client, users.provider_a)
    page = client.get("/patients").get_data(as_text=True)
    positions = [page.index(name) for name in ("Archer", "baxter", "Moss", "Zeller")]
    assert positions == sorted(positions)


def test_empty_panel_says_so(client, users):
    provider = make_user("provider", "lonely@clinic.test", first_name="Lo", last_name="Nely")
    login(client, provider)
    response = client.get("/patients")
    assert response.status_code == 200
    assert "There are no patients on your panel yet." in response.get_data(as_text=True)
    assert "<table" not in response.get_data(as_text=True)


def test_panel_view_is_audited(client, users):
    login(client, users.provider_a)
    client.get("/patients")
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "panel.viewed"))
    assert event is not None and event.actor_id == users.provider_a.id


def test_patient_gets_404_for_the_panel(client, users):
    login(client, users.patient_a)
    assert client.get("/patients").status_code == 404


def test_signed_out_visitor_is_sent_to_sign_in(client, users):
    response = client.get("/patients")
    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


@contextmanager
def counted_queries():
    statements = []

    def before_cursor_execute(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", before_cursor_execute)
    try:
        yield statements
    finally:
        event.remove(db.engine, "before_cursor_execute", before_cursor_execute)


def _grow_panel(provider, start: int, count: int) -> None:
    for n in range(start, start + count):
        patient = make_user("patient", f"p{n}@example.test", first_name=f"P{n}", last_name=f"Panel{n:03d}",
                            providers=[provider], password=n % 2 == 0)
        add_checkin(patient, date(2026, 11, 24), n % 22, se_headache=3 if n % 3 == 0 else None)
        add_checkin(patient, date(2026, 11, 25), (n + 5) % 22)
        add_treatment(patient, datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc))


def _queries_for_panel(client) -> int:
    client.get("/patients")  # the first request of a test also creates the clinic settings row
    db.session.expire_all()
    with counted_queries() as statements:
        response = client.get("/patients")
    assert response.status_code == 200
    return len(statements)


def test_query_count_does_not_grow_with_the_panel(client, users):
    login(client, users.provider_a)
    _grow_panel(users.provider_a, 0, 1)  # with patient_a: 2 patients
    small = _queries_for_panel(client)
    _grow_panel(users.provider_a, 1, 10)  # 12 patients
    large = _queries_for_panel(client)
    assert client.get("/patients").get_data(as_text=True).count('id="patient-') == 12
    assert large == small


def test_admin_query_count_does_not_grow_with_the_clinic(client, users):
    login(client, users.admin)
    small = _queries_for_panel(client)  # patient_a and patient_b
    _grow_panel(users.provider_a, 0, 5)
    _grow_panel(users.provider_b, 5, 5)
    large = _queries_for_panel(client)
    assert client.get("/patients").get_data(as_text=True).count('id="patient-') == 12
    assert large == small
