"""The offline check-in (issue 13, point 4): a check-in sent without signal waits on the phone,
"waiting to send", and is stored exactly once when the connection returns, however often the
phone sends it; one that arrives too late for its day is refused, and the phone says so; signing
out discards what is unsent, after a warning. (Without JavaScript the form is a plain form:
test_patient_phone.py.)"""
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from monitor import timeutil
from monitor.extensions import db
from monitor.models import CheckIn, CheckInRevision
from tests.factories import TODAY, login_in_browser

OPTION = "label:has(input[name='{name}'][value='{value}'])"
WAIT_MS = 15_000  # every wait, and the context default: nothing may hang
QUEUE = "monitor.outbox"


@pytest.fixture
def app_phone(browser):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
                                  service_workers="allow")
    context.set_default_timeout(WAIT_MS)
    yield context.new_page()
    context.close()


def stored() -> list[CheckIn]:
    db.session.rollback()  # see what the server's threads committed
    return db.session.scalars(select(CheckIn)).all()


def revisions() -> int:
    return db.session.scalar(select(func.count()).select_from(CheckInRevision))


def queue(page) -> list[dict]:
    return json.loads(page.evaluate(f"localStorage.getItem('{QUEUE}') || '[]'"))


def open_checkin(page, live_server, patient):
    login_in_browser(page, live_server, patient)
    page.goto(live_server + "/checkin")
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=WAIT_MS)


def fill(page, values=(3, 2, 2, 1, 1, 0, 2), day=None):
    if day is not None:  # the day is chosen by a link (the page reloads for its stem), while online
        page.locator(f'a[href="/checkin?day={day.isoformat()}"]').click()
        page.wait_for_url(f"**/checkin?day={day.isoformat()}", timeout=WAIT_MS)
    for i, value in enumerate(values, start=1):
        page.locator(OPTION.format(name=f"q{i}", value=value)).click()


def send_offline(page):
    page.context.set_offline(True)
    page.get_by_role("button", name="Send check-in").click()
    page.locator(".outbox li", has_text="waiting to send").wait_for(timeout=WAIT_MS)


def test_sent_offline_it_waits_then_is_stored_once_when_the_connection_returns(live_server, app_phone, users):
    page = app_phone
    open_checkin(page, live_server, users.patient_a)
    fill(page)
    send_offline(page)
    assert "kept on this phone, waiting to send" in page.locator(".outbox").inner_text()
    [item] = queue(page)
    assert item["day"] == TODAY.isoformat() and item["state"] == "waiting"
    assert stored() == []
    page.context.set_offline(False)  # the "online" event sends it
    page.locator(".outbox li[data-outbox-item=sent]").wait_for(timeout=WAIT_MS)
    assert queue(page) == []
    [checkin] = stored()
    assert (checkin.local_date, checkin.total, checkin.submission_key) == (TODAY, 11, item["key"])


def test_reloaded_offline_and_sent_twice_it_is_stored_once(live_server, app_phone, users):
    page = app_phone
    open_checkin(page, live_server, users.patient_a)
    fill(page)
    send_offline(page)
    page.reload()  # still offline: the worker's offline page, which lists what waits
    page.get_by_role("heading", name="No connection").wait_for(timeout=WAIT_MS)
    page.locator(".outbox li", has_text="waiting to send").wait_for(timeout=WAIT_MS)
    kept = page.evaluate(f"localStorage.getItem('{QUEUE}')")
    page.context.set_offline(False)  # the offline page opens the check-in again, which sends it
    page.locator(".outbox li[data-outbox-item=sent]").wait_for(timeout=WAIT_MS)
    assert len(stored()) == 1
    # The server's answer lost on the way back: the phone still holds it and sends it again.
    page.evaluate(f"localStorage.setItem('{QUEUE}', {json.dumps(kept)})")
    page.reload()
    page.locator(".outbox li[data-outbox-item=sent]").wait_for(timeout=WAIT_MS)
    assert queue(page) == []
    assert len(stored()) == 1 and revisions() == 0


def test_too_late_for_its_day_it_is_refused_on_the_phone_and_signing_out_warns(live_server, app_phone, users,
                                                                               frozen_clock):
    page = app_phone
    open_checkin(page, live_server, users.patient_a)
    oldest = TODAY - timedelta(days=3)  # the last day the form offers
    fill(page, day=oldest)
    send_offline(page)
    # The connection returns a day later: the session has idled out, and the day is out of reach.
    timeutil.freeze(frozen_clock + timedelta(days=1))
    page.context.set_offline(False)
    page.locator(".outbox li", has_text="Sign in again to send it").wait_for(timeout=WAIT_MS)
    login_in_browser(page, live_server, users.patient_a)
    refused = page.locator(".outbox li[data-outbox-item=refused]")
    refused.wait_for(timeout=WAIT_MS)
    assert f"{oldest:%A %-d %B}: not sent" in refused.inner_text()
    assert "check-ins can be entered for today and the previous 3 days only" in refused.inner_text()
    assert stored() == []
    # Signing out would discard it: a warning first, and staying keeps it.
    page.get_by_role("button", name="Sign out").click()
    dialog = page.get_by_role("dialog", name="Sign out and delete unsent check-ins?")
    dialog.wait_for(timeout=WAIT_MS)
    dialog.get_by_role("button", name="Stay signed in").click()
    assert len(queue(page)) == 1 and "/login" not in page.url
    page.get_by_role("button", name="Sign out").click()
    dialog.get_by_role("button", name="Sign out and delete it").click()
    page.wait_for_url("**/login", timeout=WAIT_MS)
    assert queue(page) == []
