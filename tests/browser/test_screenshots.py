"""The README's pictures (issue 13, point 7), taken from the demo clinic so they show the app as
it is: the phone's check-in and trend at 390x844, the provider's dashboard and a patient page
at 1366x900, each the first screen only (fixed sizes, small files).

Every run takes them and checks them; `UPDATE_SCREENSHOTS=1` also writes them over
docs/screenshots/*.png, which are committed:

    UPDATE_SCREENSHOTS=1 REQUIRE_BROWSER=1 python -m pytest tests/browser/test_screenshots.py"""
import os
import re
import struct
from pathlib import Path

import pytest
from sqlalchemy import select

from monitor import demo
from monitor.extensions import db
from monitor.models import User
from tests.factories import login_in_browser

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}
MAX_BYTES = 300_000  # the dense dashboard is the largest (about 230 KB)
WAIT_MS = 15_000  # every wait, and the context default: nothing may hang
PATIENT, PROVIDER = "maya.patel@demo-clinic.example", "rosa.rivera@demo-clinic.example"


@pytest.fixture
def demo_clinic(app):
    demo.seed_demo()
    db.session.commit()


@pytest.fixture
def folder(tmp_path):
    return DOCS if os.environ.get("UPDATE_SCREENSHOTS") == "1" else tmp_path


def shoot(browser, viewport, folder, email, shots):
    """Sign in as `email` in a fresh context and save each (name, path) as name.png."""
    context = browser.new_context(viewport=viewport, device_scale_factor=1, reduced_motion="reduce",
                                  is_mobile=viewport is PHONE, has_touch=viewport is PHONE,
                                  service_workers="block")  # no install prompt or cache in the pictures
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    try:
        user = db.session.scalar(select(User).where(User.email == email))
        login_in_browser(page, shots.base, user, demo.DEMO_PASSWORD)
        page.wait_for_load_state("load", timeout=WAIT_MS)
        written = []
        for name, path in shots.pages(page):
            page.goto(shots.base + path)
            page.wait_for_load_state("networkidle", timeout=WAIT_MS)
            target = folder / f"{name}.png"
            page.screenshot(path=str(target), animations="disabled", caret="hide")
            written.append(target)
        return written
    finally:
        context.close()


def png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


class Shots:
    def __init__(self, base, pages):
        self.base, self.pages = base, pages


def test_readme_screenshots_of_phone_and_desk(live_server, browser, demo_clinic, folder):
    def patient_pages(page):
        return [("phone-checkin", "/checkin"), ("phone-trend", "/me/trend")]

    def provider_pages(page):
        page.goto(live_server + "/patients")
        href = page.locator("a[href^='/patients/']", has_text="Patel").first.get_attribute("href")
        assert re.fullmatch(r"/patients/\d+", href)
        return [("provider-dashboard", "/patients"), ("provider-patient", href)]

    written = shoot(browser, PHONE, folder, PATIENT, Shots(live_server, patient_pages))
    written += shoot(browser, LAPTOP, folder, PROVIDER, Shots(live_server, provider_pages))
    sizes = {path.name: png_size(path) for path in written}
    assert sizes == {"phone-checkin.png": (390, 844), "phone-trend.png": (390, 844),
                     "provider-dashboard.png": (1366, 900), "provider-patient.png": (1366, 900)}
    for path in written:
        assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"
    # The committed pictures are these pictures' kind: same names, same sizes.
    for path in written:
        committed = DOCS / path.name
        assert committed.exists() and png_size(committed) == sizes[path.name]
