"""Charts in a real browser: the server-drawn picture shows at once (with or without JavaScript),
plotly.js is fetched only when the reader asks for the interactive chart, and that chart draws
under the Content-Security-Policy, with no inline script."""
from datetime import datetime, time, timezone

from tests.factories import add_checkin, add_treatment, day, login_in_browser


def add_history(patient):
    """Forty days of check-ins up to yesterday, with a weekly session."""
    for n in range(40, 0, -1):
        total = 15 if n % 7 in (0, 6, 5) else 6
        add_checkin(patient, day(-n), total, side_effects={"nausea": 3 if n == 3 else None})
    for n in (35, 28, 21, 14, 7):
        add_treatment(patient, datetime.combine(day(-n), time(16), tzinfo=timezone.utc), route="intramuscular")


def _open(page, url):
    """Load the page; return its response, the console errors, and every address it requested."""
    problems, requested = [], []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.on("request", lambda r: requested.append(r.url))
    response = page.goto(url)
    page.wait_for_load_state("load")
    return response, problems, requested


def _interactive(page, count):
    """Press every "Interactive chart" button and wait for plotly to draw each chart."""
    buttons = page.get_by_role("button", name="Interactive chart")
    assert buttons.count() == count
    for i in range(count):
        buttons.nth(i).click()
    # (a locator, not wait_for_function: the CSP rightly forbids the eval that would need)
    page.locator(".chart-drawn .main-svg").nth(2 * count - 1).wait_for(timeout=15000)  # plotly: two per chart


def test_provider_patient_charts_show_at_once_and_draw_on_request_under_the_csp(live_server, browser, users):
    add_history(users.patient_a)
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    login_in_browser(page, live_server, users.provider_a)
    response, problems, requested = _open(page, f"{live_server}/patients/{users.patient_a.id}")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # The first view: three pictures (the wide drawings on this screen), and no plotly.js.
    assert page.locator("svg.chart-svg.wide:visible").count() == 3
    assert page.locator("svg.chart-svg.narrow:visible").count() == 0
    assert [url for url in requested if "plotly" in url] == []

    _interactive(page, 3)
    assert [url for url in requested if "plotly" in url] != []
    assert page.locator(".chart-drawn").count() == 3
    assert page.locator("#timeline-chart .scatterlayer .trace").count() >= 4
    assert page.locator(".modebar").count() <= 3
    assert page.locator("svg.chart-svg:visible").count() == 0  # the interactive charts replace the pictures
    assert problems == []
    page.context.close()


def test_the_picture_comes_back_when_the_button_is_pressed_again(live_server, browser, users):
    add_history(users.patient_a)
    page = browser.new_context(viewport={"width": 1200, "height": 900}).new_page()
    login_in_browser(page, live_server, users.patient_a)
    _open(page, f"{live_server}/me/trend")
    button = page.get_by_role("button", name="Interactive chart")
    _interactive(page, 1)
    assert button.get_attribute("aria-pressed") == "true" and page.locator("#trend-chart").is_visible()
    button.click()
    assert button.get_attribute("aria-pressed") == "false"
    assert page.locator("#trend-chart").is_hidden() and page.locator("svg.chart-svg.wide").is_visible()
    assert page.evaluate("document.activeElement.textContent") == "Interactive chart"  # focus stays on it
    page.context.close()


def test_patient_trend_is_readable_at_360px(live_server, measuring_phone, users):
    add_history(users.patient_a)
    login_in_browser(measuring_phone, live_server, users.patient_a)
    _, problems, requested = _open(measuring_phone, f"{live_server}/me/trend?days=90")
    picture = measuring_phone.locator("svg.chart-svg.narrow")
    assert picture.is_visible() and picture.bounding_box()["width"] <= 360
    assert [url for url in requested if "plotly" in url] == []
    assert measuring_phone.evaluate("document.documentElement.scrollWidth") <= 360

    _interactive(measuring_phone, 1)
    assert problems == []
    assert measuring_phone.evaluate("document.documentElement.scrollWidth") <= 360
    # No mode bar on a phone, and no drag-zoom that would trap the page's scrolling.
    assert measuring_phone.locator(".modebar-container .modebar").count() == 0
    assert measuring_phone.evaluate(
        "document.getElementById('trend-chart').layout.dragmode") is False


def test_charts_show_without_javascript(live_server, phone, users):
    add_history(users.patient_a)
    login_in_browser(phone, live_server, users.patient_a)
    phone.goto(f"{live_server}/me/trend")
    picture = phone.get_by_role("img", name="Your daily totals over the last 30 days with treatment sessions marked")
    assert picture.is_visible()
    assert picture.locator("path").count() > 3
    # Without JavaScript there is nothing to press: the button stays hidden.
    assert phone.get_by_role("button", name="Interactive chart").count() == 0
