"""Charts draw in a real browser under the Content-Security-Policy, with no inline script."""
from datetime import datetime, time, timezone

from tests.factories import add_checkin, add_treatment, day, login_in_browser


def add_history(patient):
    """Forty days of check-ins up to yesterday, with a weekly session."""
    for n in range(40, 0, -1):
        total = 15 if n % 7 in (0, 6, 5) else 6
        add_checkin(patient, day(-n), total, side_effects={"nausea": 3 if n == 3 else None})
    for n in (35, 28, 21, 14, 7):
        add_treatment(patient, datetime.combine(day(-n), time(16), tzinfo=timezone.utc), route="intramuscular")


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
    login_in_browser(page, live_server, users.provider_a)
    response, problems = _draw_and_collect(page, f"{live_server}/patients/{users.patient_a.id}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert page.locator(".chart-drawn").count() == 3
    assert page.locator("#timeline-chart .scatterlayer .trace").count() >= 4
    assert page.locator(".modebar").count() <= 3
    assert problems == []
    page.context.close()


def test_patient_trend_is_readable_at_360px(live_server, measuring_phone, users):
    add_history(users.patient_a)
    login_in_browser(measuring_phone, live_server, users.patient_a)
    _, problems = _draw_and_collect(measuring_phone, f"{live_server}/me/trend?days=90")
    assert problems == []
    assert measuring_phone.evaluate("document.documentElement.scrollWidth") <= 360
    # No mode bar on a phone, and no drag-zoom that would trap the page's scrolling.
    assert measuring_phone.locator(".modebar-container .modebar").count() == 0
    assert measuring_phone.evaluate(
        "document.getElementById('trend-chart').layout.dragmode") is False
