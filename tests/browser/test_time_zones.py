"""The device's time zone suggested in a real browser (static/js/timezone.js, under the CSP):
on the enrolment form it becomes the default while the field is untouched; on a patient's
settings it is offered, never applied unasked; without JavaScript the select still works."""
from tests.factories import login_in_browser

TIMEOUT = 15000


def _page(browser, zone: str, javascript: bool = True):
    context = browser.new_context(viewport={"width": 1366, "height": 900}, timezone_id=zone,
                                  java_script_enabled=javascript)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    return page


def test_the_enrolment_form_defaults_to_the_devices_zone(live_server, browser, users):
    page = _page(browser, "Europe/Paris")
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    login_in_browser(page, live_server, users.provider_a)
    page.goto(f"{live_server}/patients/new")
    page.locator("#timezone-device").wait_for()
    assert page.locator("#timezone").input_value() == "Europe/Paris"
    assert "this device's time zone, Europe/Paris" in page.locator("#timezone-device").inner_text()
    assert [p for p in problems if "Content Security Policy" in p or "timezone" in p] == []
    page.context.close()


def test_settings_offer_the_devices_zone_and_change_nothing_unasked(live_server, browser, users):
    page = _page(browser, "Asia/Tokyo")
    login_in_browser(page, live_server, users.patient_a)
    page.goto(f"{live_server}/me/settings")
    button = page.get_by_role("button", name="Use this device's time zone: Asia/Tokyo")
    button.wait_for()
    assert page.locator("#timezone").input_value() == "America/New_York"
    button.click()
    assert page.locator("#timezone").input_value() == "Asia/Tokyo"
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Your settings are saved.").wait_for()
    page.context.close()


def test_without_javascript_the_select_keeps_the_clinics_zone_and_saves(live_server, browser, users):
    page = _page(browser, "Asia/Tokyo", javascript=False)
    login_in_browser(page, live_server, users.patient_a)
    page.goto(f"{live_server}/me/settings")
    assert page.locator("#timezone").input_value() == "America/New_York"
    assert page.get_by_role("button", name="Use this device's time zone: Asia/Tokyo").count() == 0
    page.locator("#timezone").select_option("Australia/Sydney")
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Your settings are saved.").wait_for()
    page.context.close()


def test_every_zone_is_behind_a_search_that_narrows_the_list_and_chooses(live_server, browser, users):
    page = _page(browser, "America/New_York")
    login_in_browser(page, live_server, users.patient_a)
    page.goto(f"{live_server}/me/settings")
    page.get_by_label("Search every time zone").fill("kolk")
    assert page.locator("#timezone").input_value() == "Asia/Kolkata"
    assert "1 zone matches" in page.locator("#timezone-search-status").inner_text()
    visible = page.locator("#timezone option").evaluate_all("os => os.filter(o => !o.hidden).map(o => o.value)")
    assert visible == ["Asia/Kolkata"]
    page.get_by_label("Search every time zone").fill("")  # cleared: every zone again, the choice kept
    assert page.locator("#timezone option:not([hidden])").count() > 300
    assert page.locator("#timezone").input_value() == "Asia/Kolkata"
    page.get_by_role("button", name="Save settings").click()
    page.get_by_text("Your settings are saved.").wait_for()
    page.context.close()
