"""The installable app (issue 13, point 3): Chromium itself finds the check-in installable, and
after a patient uses the app the service worker's Cache Storage holds the app shell only."""
import os
import re

import pytest

from tests.factories import login_in_browser

OPTION = "label:has(input[name='{name}'][value='{value}'])"
SHELL_ENTRY = re.compile(r"^/offline$|^/static/.+\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
WAIT_MS = 15_000  # every wait, and the context default: nothing may hang



@pytest.fixture
def app_phone(browser):
    """A phone with JavaScript on, as patients have it, and a service worker allowed."""
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=1,
                                  is_mobile=True, has_touch=True, service_workers="allow")
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def wait_for_worker(page):
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null",
                           timeout=WAIT_MS)


def cached_paths(page) -> list[str]:
    return page.evaluate("""async () => {
        const paths = [];
        for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const request of await cache.keys()) paths.push(new URL(request.url).pathname);
        }
        return paths.sort();
    }""")


@pytest.fixture
def profile_phone(browser, tmp_path):
    """The same phone with a profile on disk: Chromium never offers to install from an
    incognito window, which is what a fresh Playwright context is."""
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "profile"), executable_path=os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"), args=["--no-sandbox", "--disable-gpu"],
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, service_workers="allow")
    context.set_default_timeout(WAIT_MS)
    yield context.pages[0] if context.pages else context.new_page()
    context.close()


def test_chromium_finds_the_checkin_installable(live_server, profile_phone, users):
    page = profile_phone
    login_in_browser(page, live_server, users.patient_a)
    page.goto(live_server + "/checkin")
    wait_for_worker(page)
    cdp = page.context.new_cdp_session(page)
    # The check Chromium makes before it offers "Install app" / "Add to home screen"
    # (Lighthouse 12 dropped its PWA audits; this is what they asked Chromium).
    errors = cdp.send("Page.getInstallabilityErrors")["installabilityErrors"]
    assert errors == []
    manifest = cdp.send("Page.getAppManifest")
    assert manifest["url"].endswith("/manifest.webmanifest") and not manifest.get("errors")


def test_after_a_patients_visit_the_cache_holds_only_the_shell(live_server, app_phone, users):
    page = app_phone
    login_in_browser(page, live_server, users.patient_a)
    page.goto(live_server + "/checkin")
    wait_for_worker(page)
    page.reload()  # now every request of the page goes through the worker
    for i, value in enumerate([3, 2, 2, 1, 1, 0, 2], start=1):
        page.locator(OPTION.format(name=f"q{i}", value=value)).click()
    page.get_by_label("Anything else you want to note (optional)").fill("a note only the clinic may read")
    page.get_by_role("button", name="Send check-in").click()
    page.wait_for_url(re.compile(r"/checkin/\d{4}-\d{2}-\d{2}/done$"), timeout=WAIT_MS)
    for path in ("/me", "/me/trend", "/me/settings", "/checkin"):
        page.goto(live_server + path)
    page.wait_for_load_state("networkidle", timeout=WAIT_MS)
    token = page.locator("form[data-outbox-owner] input[name=csrf_token]").get_attribute("value")
    paths = cached_paths(page)
    assert "/offline" in paths and any(p.startswith("/static/css/app.") for p in paths)
    assert [p for p in paths if not SHELL_ENTRY.match(p)] == [], paths
    # Nothing the worker kept holds the patient's words, name or a form token.
    bodies = page.evaluate("""async () => {
        const texts = [];
        for (const name of await caches.keys()) {
            const cache = await caches.open(name);
            for (const request of await cache.keys()) {
                const response = await cache.match(request);
                const type = response.headers.get('Content-Type') || '';
                if (!type.startsWith('image/')) texts.push(await response.text());
            }
        }
        return texts.join('\\n');
    }""")
    for secret in ("a note only the clinic may read", users.patient_a.email, "Alice", token):
        assert secret not in bodies
