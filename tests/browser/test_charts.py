"""Charts draw in a real browser under the Content-Security-Policy, with no inline script."""
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from monitor.checkins import save_checkin
from monitor.extensions import db
from monitor.models import Treatment
from tests.browser.test_patient_phone import sign_in
from tests.conftest import answers_for


def add_history(patient, today=date(2026, 11, 26)):
    for n in range(40, 0, -1):
        day = today - timedelta(days=n)
        total = 15 if n % 7 in (0, 6, 5) else 6
        save_checkin(patient, day, answers_for(total), {"nausea": 3 if n == 3 else None}, None)
    for n in (35, 28, 21, 14, 7):
        db.session.add(Treatment(patient_id=patient.id, route="intramuscular", dose_mg=Decimal("50"),
                                 administered_at=datetime.combine(today - timedelta(days=n), datetime.min.time(),
                                                                  tzinfo=timezone.utc) + timedelta(hours=16)))
    db.session.commit()


def _draw_and_collect(page, url):
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    response = page.goto(url)
    page.wait_for_selector(".chart-drawn .main-svg", timeout=10000)
    return response, problems


def test_provider_patient_charts_draw_under_the_csp(live_server, browser, users):
    add_history(users.patient_a)
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    sign_in(page, live_server, users.provider_a)
    response, problems = _draw_and_collect(page, f"{live_server}/patients/{users.patient_a.id}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.locator(".chart-drawn").count() == 3
    assert page.locator("#timeline-chart .scatterlayer .trace").count() >= 4
    assert page.locator(".modebar").count() <= 3
    assert problems == []
    page.context.close()


def test_patient_trend_is_readable_at_360px(live_server, measuring_phone, users):
    add_history(users.patient_a)
    sign_in(measuring_phone, live_server, users.patient_a)
    _, problems = _draw_and_collect(measuring_phone, f"{live_server}/me/trend?days=90")
    assert problems == []
    assert measuring_phone.evaluate("document.documentElement.scrollWidth") <= 360
    # No mode bar on a phone, and no drag-zoom that would trap the page's scrolling.
    assert measuring_phone.locator(".modebar-container .modebar").count() == 0
    assert measuring_phone.evaluate(
        "document.getElementById('trend-chart').layout.dragmode") is False
