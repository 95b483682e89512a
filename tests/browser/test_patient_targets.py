"""The patient's phone (issue 13): every target on every page a patient meets is at least
44x44 px at 390 px wide; text at 200% neither scrolls the page sideways nor clips the check-in;
reduced motion stops every transition; and the crisis line sits right above Send with its
phone numbers as full-size tap-to-call links. The pages are the axe walk's (PAGES in
test_accessibility.py, held there to the app's url_map)."""
from monitor.clinic import get_clinic, update_settings
from monitor.extensions import db
from tests.browser.test_accessibility import EXTRA, PAGES, open_visit, seed, sign_in
from tests.factories import login_in_browser

PHONE = {"width": 390, "height": 844}
LAPTOP = {"width": 1366, "height": 900}
PATIENT_SIDE = ("anonymous", "verifying", "patient")

# Every target, measured where a finger lands: a checkbox's or radio button's label, else the
# element itself. Closed <details> are opened first so that what they hold is measured too.
SMALL_TARGETS = """() => {
    document.querySelectorAll('details').forEach(d => { d.open = true; });
    const small = [], seen = new Set();
    for (const el of document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea, summary')) {
        const box = (el.type === 'radio' || el.type === 'checkbox') ? el.labels[0] : el;
        if (!box || seen.has(box)) continue;
        seen.add(box);
        if (box.getClientRects().length === 0 || box.closest('dialog:not([open])')) continue;  // not shown
        const r = box.getBoundingClientRect();
        if (r.width < 44 || r.height < 44)
            small.push(`${box.tagName} "${(box.innerText || box.value || '').trim().slice(0, 40)}" ` +
                       `${Math.round(r.width)}x${Math.round(r.height)}`);
    }
    return small;
}"""


def patient_side_visits():
    visits = [v for visits in PAGES.values() for v in visits if v.principal in PATIENT_SIDE]
    return visits + [v for v in EXTRA if v.principal in PATIENT_SIDE]


def test_every_target_on_the_patients_pages_is_at_least_44px(live_server, browser, users):
    records = seed(users)
    found = []
    for principal in PATIENT_SIDE:
        context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
        context.set_default_timeout(15000)
        page = context.new_page()
        sign_in(page, live_server, users, principal)
        for visit in (v for v in patient_side_visits() if v.principal == principal):
            open_visit(page, live_server, visit, records)
            found += [f"{visit.path}{' (errors)' if visit.submit else ''}: {t}" for t in page.evaluate(SMALL_TARGETS)]
        context.close()
    assert not found, "\n".join(found)


# At 200% text (the browser's text size doubled: every rem and em grows), nothing may stick out.
DOUBLE_TEXT = "() => { document.documentElement.style.fontSize = '200%'; }"
OVERFLOW = """selector => {
    document.querySelectorAll('details').forEach(d => { d.open = true; });
    const root = document.documentElement, width = root.clientWidth, out = [];
    if (root.scrollWidth > width) out.push(`the page scrolls sideways: ${root.scrollWidth} > ${width}`);
    const scope = selector ? document.querySelector(selector) : null;
    for (const el of scope ? scope.querySelectorAll('*') : []) {
        if (el.getClientRects().length === 0 || el.type === 'hidden') continue;
        const r = el.getBoundingClientRect();
        const cut = el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1 && el.tagName !== 'TEXTAREA';
        if (r.left < -1 || r.right > width + 1 || cut)
            out.push(`${el.tagName}.${el.className} "${(el.innerText || '').trim().slice(0, 30)}" ` +
                     `${Math.round(r.left)}..${Math.round(r.right)} of ${width}` + (cut ? ' (clipped)' : ''));
    }
    return out;
}"""


def test_text_at_200_percent_neither_scrolls_sideways_nor_clips_the_checkin(live_server, browser, users):
    records = seed(users)
    found = []
    for viewport in (PHONE, LAPTOP):
        context = browser.new_context(viewport=viewport)
        context.set_default_timeout(15000)
        page = context.new_page()
        sign_in(page, live_server, users, "patient")
        for visit in (v for v in patient_side_visits() if v.principal == "patient"):
            open_visit(page, live_server, visit, records)
            page.evaluate(DOUBLE_TEXT)
            assert page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)") >= 32
            scope = "main form[action$='/checkin']" if visit.path == "/checkin" else None
            found += [f"{viewport['width']}px {visit.path}{' (errors)' if visit.submit else ''}: {p}"
                      for p in page.evaluate(OVERFLOW, scope)]
        context.close()
    assert not found, "\n".join(found)


MOVING = """() => [...document.querySelectorAll('*')].filter(el => {
    const s = getComputedStyle(el);
    return s.transitionDuration.split(',').some(d => parseFloat(d) > 0) ||
           s.animationDuration.split(',').some(d => parseFloat(d) > 0) && s.animationName !== 'none';
}).map(el => el.tagName + '.' + (el.getAttribute('class') || '')).slice(0, 10)"""


def test_reduced_motion_stops_every_transition_including_the_interactive_charts(live_server, browser, users):
    records = seed(users)
    trend = [v for v in PAGES["patient.trend"] if v.interactive][0]
    moving = {}
    for motion in ("no-preference", "reduce"):
        context = browser.new_context(viewport=LAPTOP, reduced_motion=motion)
        context.set_default_timeout(15000)
        page = context.new_page()
        sign_in(page, live_server, users, "patient")
        open_visit(page, live_server, trend, records)
        moving[motion] = page.evaluate(MOVING)
        context.close()
    assert moving["no-preference"], "nothing moves even without the preference: the test proves nothing"
    assert moving["reduce"] == []


def test_the_crisis_line_sits_above_send_with_full_size_tap_to_call_links(live_server, browser, users):
    update_settings(get_clinic(), {"crisis_text": "Not watched around the clock. Samaritans: call 116 123 "
                                                  "any time; emergencies 999 (UK)."})
    db.session.commit()  # the admin's settings, as the clinic page would have saved them
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    login_in_browser(page, live_server, users.patient_a)
    page.goto(live_server + "/checkin", timeout=15000)
    line = page.locator("main form .crisis-line")
    send = page.get_by_role("button", name="Send check-in")
    # The clinic's own words, unchanged, right above Send (and still in the footer).
    assert line.inner_text() == "Not watched around the clock. Samaritans: call 116 123 any time; emergencies 999 (UK)."
    assert line.bounding_box()["y"] + line.bounding_box()["height"] <= send.bounding_box()["y"]
    assert page.evaluate("() => document.querySelector('.crisis-line').nextElementSibling.type") == "submit"
    for where in ("main form .crisis-line", "footer.crisis"):
        links = page.locator(f"{where} a.tel")
        assert [links.nth(i).get_attribute("href") for i in range(links.count())] == ["tel:116123", "tel:999"]
        assert [links.nth(i).inner_text() for i in range(links.count())] == ["116 123", "999"]
        for i in range(links.count()):
            box = links.nth(i).bounding_box()
            assert box["width"] >= 44 and box["height"] >= 44, f"{where} link {i}: {box}"
    context.close()
