"""The patient's pages on a 360 px phone: no horizontal scroll, large targets, no JavaScript needed."""
from sqlalchemy import select

from monitor.extensions import db
from monitor.models import CheckIn
from tests.factories import login, login_in_browser

OPTION = "label:has(input[name='{name}'][value='{value}'])"


def test_checkin_works_without_javascript_at_360px(live_server, phone, users):
    login_in_browser(phone, live_server, users.patient_a)
    phone.goto(live_server + "/checkin")
    for i, value in enumerate([3, 2, 2, 1, 1, 0, 2], start=1):
        phone.locator(OPTION.format(name=f"q{i}", value=value)).click()
    phone.get_by_text("Side effects (optional)").click()  # a <details>: opens without JavaScript
    phone.get_by_role("group", name="Nausea or vomiting").get_by_text("Mild").click()
    phone.get_by_label("Anything else you want to note (optional)").fill("slept badly")
    phone.get_by_role("button", name="Send check-in").click()
    assert "Thank you, your check-in is saved" in phone.content()
    assert phone.locator(".total").inner_text().startswith("11")
    db.session.rollback()
    stored = db.session.scalar(select(CheckIn))
    assert (stored.total, stored.se_nausea, stored.note) == (11, 1, "slept badly")


def _layout(page):
    return page.evaluate("""() => ({
        scrollWidth: document.documentElement.scrollWidth,
        clientWidth: document.documentElement.clientWidth,
        smallTargets: [...document.querySelectorAll('.options label, button, .button, input:not([type=radio]):not([type=hidden]), select, textarea')]
            .filter(el => el.offsetParent !== null)
            .map(el => el.getBoundingClientRect())
            .filter(r => r.height < 44).length,
    })""")


def test_patient_pages_fit_360px_with_large_targets(app, live_server, measuring_phone, users):
    page = measuring_phone
    login(app.test_client(), users.patient_a)  # a second session: the security page offers to end it
    login_in_browser(page, live_server, users.patient_a)
    for path in ("/checkin", "/me", "/me/trend", "/me/settings", "/account/security", "/account/password",
                 "/account/security/two-factor"):
        page.goto(live_server + path)
        layout = _layout(page)
        assert layout["scrollWidth"] <= 360, f"{path} scrolls sideways: {layout}"
        assert layout["smallTargets"] == 0, f"{path} has targets under 44px: {layout}"
        assert "This app is not monitored 24/7" in page.inner_text("footer")
    page.goto(live_server + "/checkin")
    page.locator("details.side-effects summary").click()
    assert _layout(page)["scrollWidth"] <= 360
