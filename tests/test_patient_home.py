"""The patient's own history page and the crisis line on every patient page (SPEC 2.3, 3)."""
import re
from datetime import date, datetime, timezone

from monitor.clinic import get_clinic
from monitor.extensions import db
from tests.factories import add_checkin, add_treatment, login

CRISIS = "This app is not monitored 24/7. In a crisis call or text 988 (US), or 911 for an emergency."


NOTES = "BP fine, dissociation moderate"


def test_patient_sees_own_sessions_with_date_and_route_only(client, users):
    add_treatment(users.patient_a, datetime(2026, 11, 20, 15, 0, tzinfo=timezone.utc), route="intramuscular",
                  dose="52.5", notes=NOTES)
    add_treatment(users.patient_a, datetime(2026, 12, 3, 15, 0, tzinfo=timezone.utc), route="lozenge", dose="200",
                  notes=NOTES)
    add_treatment(users.patient_b, datetime(2026, 11, 21, 15, 0, tzinfo=timezone.utc), route="oral", dose="75",
                  notes=NOTES)
    login(client, users.patient_a)
    html = client.get("/me").get_data(as_text=True)
    assert "Fri 20 Nov 2026 · Intramuscular" in html
    assert "Thu 3 Dec 2026 · Sublingual lozenge" in html
    assert html.index("Planned") < html.index("Thu 3 Dec 2026") < html.index("Past")
    # Dose, notes and other patients' sessions are not shown.
    for hidden in ("52.5", "200", "dissociation moderate", "Oral", "Sat 21 Nov"):
        assert hidden not in html


def test_patient_sees_own_checkins_not_others(client, users):
    add_checkin(users.patient_a, date(2026, 11, 25), 14)
    add_checkin(users.patient_b, date(2026, 11, 25), 21)
    login(client, users.patient_a)
    html = client.get("/me").get_data(as_text=True)
    assert ">14</td>" in html and "Moderate" in html
    assert ">21</td>" not in html
    assert "Do today's check-in" in html


def test_crisis_line_on_every_patient_page(client, users):
    add_checkin(users.patient_a, date(2026, 11, 26), 7)
    assert CRISIS in _text(client.get("/login").get_data(as_text=True))
    login(client, users.patient_a)
    for path in ("/checkin", "/me", "/checkin/2026-11-26/done"):
        r = client.get(path)
        assert r.status_code == 200
        assert CRISIS in _text(r.get_data(as_text=True)), path


def _text(html: str) -> str:
    """The page's words without its tags: the crisis line's numbers are tap-to-call links."""
    return re.sub(r"<[^>]+>", "", html)


def test_crisis_text_is_configurable_per_clinic(client, users):
    get_clinic().crisis_text = "Not monitored around the clock. In an emergency call 112."
    db.session.commit()
    login(client, users.patient_a)
    page = client.get("/checkin").get_data(as_text=True)
    assert "In an emergency call 112." in _text(page)
    assert '<a class="tel" href="tel:112">112</a>' in page


def test_patient_pages_are_not_cached(client, users):
    login(client, users.patient_a)
    assert client.get("/me").headers["Cache-Control"] == "no-store"
