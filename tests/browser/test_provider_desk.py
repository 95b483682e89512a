"""The provider's desk (issue 13): on a 1366x900 laptop the dashboard shows at least eight
patients of a realistic panel on the first screen, with every triage column whole; the same
page still fits a 390 px phone; the patient page opens with what a provider decides on and
no table on it overflows its container."""
from datetime import datetime, time, timezone

import pytest

from tests.factories import (add_checkin, add_patient, add_standard_gad7, add_treatment, day, enrolled_long_ago,
                             login_in_browser)

LAPTOP = {"width": 1366, "height": 900}
# Names of realistic length, long ones among them: a layout must not rely on "Ann Lee".
NAMES = [("Alexandra", "Montgomery-Fitzgerald"), ("Oluwaseun", "Adebayo-Okonkwo"), ("María José", "Hernández García"),
         ("Christopher", "Vanderbilt"), ("Nguyen", "Thi Thanh Huong"), ("Bartholomew", "Abernathy"),
         ("Siobhán", "O'Sullivan-Murphy"), ("Priyanka", "Raghunathan"), ("Jean-Baptiste", "Delacroix"),
         ("Kateryna", "Shevchenko"), ("Muhammad", "Al-Rashidi"), ("Elizabeth", "Worthington-Smythe")]
# The columns a provider triages by: each must be whole (not cut off) in every row on screen.
COLUMNS = ["th[scope=row]", "td[data-label='Latest']", "td[data-label='Last 30 days']",
           "td[data-label='Standard GAD-7']", "td[data-label='Typical duration']"]
TIMEOUT = 15000


SESSIONS = (20, 13, 6)  # days before today


def _history(patient, n: int) -> None:
    """Three weeks of check-ins shaped by n around weekly sessions that each help for four days
    and then wane (so typical durations are known); some severe, some rising, a severe side
    effect, a missed yesterday; standard GAD-7s two weeks apart."""
    for back in range(21, 0 if n % 3 else 1, -1):
        if n % 4 == 1 and back in (2, 3):
            continue
        since = min((s - back for s in SESSIONS if s >= back), default=None)
        helped = since is not None and 1 <= since <= 4
        total = (4 + n % 3) if helped else (13 + n % 4 + (4 if n % 5 == 0 else 0))
        if back <= 2 and n % 2:
            total += 5
        add_checkin(patient, day(-back), min(21, total),
                    side_effects={"nausea": 3 if n % 3 == 0 and back == 2 else None, "headache": 1 if back == 4 else None})
    for back in SESSIONS:
        add_treatment(patient, datetime.combine(day(-back), time(16), tzinfo=timezone.utc), route="intramuscular")
    add_standard_gad7(patient, day(-20), 16)
    add_standard_gad7(patient, day(-6), 9 + n % 4)


@pytest.fixture
def panel(users):
    patients = [add_patient(f"p{n}@example.test", first_name=first, last_name=last, providers=[users.provider_a])
                for n, (first, last) in enumerate(NAMES)]
    enrolled_long_ago(*patients)
    for n, patient in enumerate(patients):
        _history(patient, n)
    return patients


def _rows_on_screen(page) -> list[dict]:
    """Each row of the triage table wholly inside the viewport, with every triage cell's
    overflow (content wider or taller than its box, or past the window's right edge)."""
    return page.evaluate("""([columns, width, height]) => [...document.querySelectorAll('table.triage tbody tr')]
        .filter(tr => { const r = tr.getBoundingClientRect(); return r.top >= 0 && r.bottom <= height; })
        .map(tr => ({
            height: tr.getBoundingClientRect().height,
            clipped: columns.filter(sel => {
                const cell = tr.querySelector(sel);
                if (!cell) return true;
                const r = cell.getBoundingClientRect();
                return r.width === 0 || r.right > width || cell.scrollWidth > cell.clientWidth + 1;
            }),
            flags: tr.querySelectorAll('[data-flag]').length,
        }))""", [COLUMNS, LAPTOP["width"], LAPTOP["height"]])


def test_the_dashboard_shows_eight_patients_whole_on_a_1366x900_laptop(live_server, browser, users, panel):
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.set_default_timeout(TIMEOUT)
    login_in_browser(page, live_server, users.provider_a)
    page.goto(f"{live_server}/patients")
    page.locator("table.triage").wait_for()
    rows = _rows_on_screen(page)
    assert len(rows) >= 8, [r["height"] for r in rows]
    assert [r["clipped"] for r in rows if r["clipped"]] == []
    assert sum(r["flags"] for r in rows) >= 8  # a realistic panel: flags are shown, not hidden away
    layout = page.evaluate("""() => ({
        main: document.querySelector('main').getBoundingClientRect().width,
        wrapOverflow: [...document.querySelectorAll('.table-wrap')].some(w => w.scrollWidth > w.clientWidth + 1),
        scrollWidth: document.documentElement.scrollWidth})""")
    assert layout["main"] > 1200  # the page uses the laptop's width, not 930 px of it
    assert not layout["wrapOverflow"] and layout["scrollWidth"] <= LAPTOP["width"]
    page.context.close()


def test_the_dashboard_still_fits_a_390px_phone(live_server, browser, users, panel):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    login_in_browser(page, live_server, users.provider_a)
    page.goto(f"{live_server}/patients")
    page.locator("table.triage").wait_for()
    widths = page.evaluate("""() => ({
        page: document.documentElement.scrollWidth,
        widest: Math.max(...[...document.querySelectorAll('main *')].map(el => el.getBoundingClientRect().right))})""")
    assert widths["page"] <= 390 and widths["widest"] <= 390
    context.close()


def test_the_patient_page_opens_with_the_decision_and_no_table_overflows_at_1366px(live_server, browser, users,
                                                                                   panel):
    patient = panel[0]
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.set_default_timeout(TIMEOUT)
    login_in_browser(page, live_server, users.provider_a)
    page.goto(f"{live_server}/patients/{patient.id}")
    summary = page.locator("#at-a-glance")
    summary.wait_for()
    # What a provider decides on comes before the chart, on the first screen.
    box = summary.bounding_box()
    chart = page.locator("#timeline-chart-summary").bounding_box()
    assert box["y"] + box["height"] <= chart["y"] and box["y"] < LAPTOP["height"]
    for words in ("Status", "Flags", "Days since last session", "Typical duration", "Standard GAD-7"):
        assert summary.get_by_text(words, exact=False).count() >= 1, words
    # Open every folded table, then measure each table against its container.
    for details in page.locator("main details").all():
        details.evaluate("d => d.open = true")
    overflow = page.evaluate("""() => [...document.querySelectorAll('main table')].map(t => {
        const box = t.parentElement.getBoundingClientRect(), r = t.getBoundingClientRect();
        return {label: t.getAttribute('aria-label') || t.caption?.textContent || '?',
                over: r.right > box.right + 1 || t.parentElement.scrollWidth > t.parentElement.clientWidth + 1
                      || r.right > window.innerWidth};
    }).filter(t => t.over).map(t => t.label)""")
    assert overflow == []
    page.context.close()
