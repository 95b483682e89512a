"""The idle warning in a real browser, with a short idle limit and the real clock: two
"minutes" ahead (here seconds) an accessible modal dialog says the patient will be signed out;
"Stay signed in" keeps the session alive on the server past the first limit; doing nothing
signs out and lands on the sign-in page. The server's limit stays the control
(tests/test_sessions.py)."""
import time

from monitor import sessions, timeutil
from monitor.extensions import db
from monitor.sessions import SIGNED_OUT_MESSAGE
from tests.factories import login_in_browser

IDLE_SECONDS = 8
WARN_SECONDS = 5

DIALOG_STATE = """() => {
    const d = document.getElementById('idle-dialog');
    return {modal: d.matches(':modal'), role: d.getAttribute('role'),
            name: document.getElementById(d.getAttribute('aria-labelledby')).textContent,
            focused: document.activeElement.textContent.trim(), focusInside: d.contains(document.activeElement)};
}"""


def live_sessions(user):
    db.session.rollback()
    return sessions.live_for(user)


def test_the_idle_warning_offers_to_stay_and_otherwise_signs_out(app, live_server, browser, users):
    timeutil.freeze(None)  # the real clock: the browser's timers and the server's limit run together
    app.config["PATIENT_IDLE_MINUTES"] = IDLE_SECONDS / 60
    app.config["IDLE_WARNING_SECONDS"] = WARN_SECONDS
    context = browser.new_context(viewport={"width": 390, "height": 844})
    context.set_default_timeout(15000)
    page = context.new_page()
    login_in_browser(page, live_server, users.patient_a)
    signed_in_at = time.monotonic()
    page.goto(live_server + "/checkin")
    dialog = page.get_by_role("alertdialog", name="Are you still there?")
    assert not dialog.is_visible()

    dialog.wait_for(state="visible", timeout=(IDLE_SECONDS + 2) * 1000)
    assert time.monotonic() - signed_in_at < IDLE_SECONDS
    assert page.evaluate(DIALOG_STATE) == {"modal": True, "role": "alertdialog", "name": "Are you still there?",
                                           "focused": "Stay signed in", "focusInside": True}
    assert "signed out in" in dialog.inner_text()

    page.keyboard.press("Enter")  # the focused "Stay signed in"
    dialog.wait_for(state="hidden", timeout=5000)
    # Past the first limit, the session still works: "Stay signed in" reached the server.
    time.sleep(max(0.0, IDLE_SECONDS + 1 - (time.monotonic() - signed_in_at)))
    assert len(live_sessions(users.patient_a)) == 1
    page.goto(live_server + "/me/trend")
    assert page.url.endswith("/me/trend")

    # Now nobody answers: the warning comes back, then the page signs out by itself.
    dialog.wait_for(state="visible", timeout=(IDLE_SECONDS + 2) * 1000)
    page.wait_for_url("**/login*", timeout=(IDLE_SECONDS + 5) * 1000)
    assert SIGNED_OUT_MESSAGE in page.inner_text("main")
    assert live_sessions(users.patient_a) == []
    context.close()
