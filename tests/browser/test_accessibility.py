"""Accessibility in a real browser (issue 13): axe-core's WCAG 2.0, 2.1 and 2.2 A and AA rules
over every page of the app, on a 390x844 phone and a 1366x900 laptop, in the light and the dark
colour scheme, signed out and as a patient, a provider and an admin, forms also showing their
errors and charts also drawn interactive: zero violations. The pages come from PAGES, which a
test holds to the app's url_map, so a new page cannot be left out.

One browser for the run (the session fixture); each principal's walk is one test that seeds its
data once and reuses one phone and one laptop page for all of its pages."""
from dataclasses import dataclass
from datetime import datetime, time, timedelta, timezone

import pytest

from axe_playwright_python.base import AXE_SCRIPT

from monitor import tokens
from monitor.extensions import db
from tests.factories import (TODAY, add_checkin, add_patient, add_standard_gad7, add_treatment, day,
                             enable_two_factor, login_in_browser)

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
VIEWPORTS = {"phone": {"width": 390, "height": 844}, "laptop": {"width": 1366, "height": 900}}
DARK_BACKGROUND = """() => {
    const [r, g, b] = getComputedStyle(document.body).backgroundColor.match(/\\d+/g).map(Number);
    return r + g + b < 150;
}"""


@dataclass(frozen=True)
class Visit:
    """One page as one principal: the address (formatted with the seeded records), then, when
    `submit` names a button, that form sent with its fields emptied so that it shows its errors;
    `interactive` presses every "Interactive chart" button first."""
    principal: str
    path: str
    submit: str | None = None
    interactive: bool = False


# Every GET route that answers with a page, and how to reach it. A route with arguments is
# visited with the seeded records; "verifying" is someone half-way through a two-factor sign-in.
PAGES: dict[str, list[Visit]] = {
    "auth.login": [Visit("anonymous", "/login"), Visit("anonymous", "/login", submit="Sign in")],
    "auth.request_reset": [Visit("anonymous", "/account/reset"),
                           Visit("anonymous", "/account/reset", submit="Email me a link")],
    "auth.reset_password": [Visit("anonymous", "/account/reset/{reset}"),
                            Visit("anonymous", "/account/reset/{reset}", submit="Save password"),
                            Visit("anonymous", "/account/reset/not-a-token")],
    "auth.accept_invitation": [Visit("anonymous", "/account/invitation/{invitation}"),
                               Visit("anonymous", "/account/invitation/{invitation}", submit="Save password")],
    "auth.two_factor_off": [Visit("anonymous", "/account/two-factor-off/{two_factor_off}")],
    "unsubscribe.confirm": [Visit("anonymous", "/unsubscribe/{unsubscribe}")],
    "auth.verify": [Visit("verifying", "/login/verify"), Visit("verifying", "/login/verify", submit="Continue")],
    "auth.security": [Visit("patient", "/account/security"), Visit("provider", "/account/security"),
                      Visit("admin", "/account/security")],
    "auth.change_password": [Visit("patient", "/account/password"),
                             Visit("patient", "/account/password", submit="Change password"),
                             Visit("provider", "/account/password")],
    "auth.enrol_two_factor": [Visit("patient", "/account/security/two-factor"),
                              Visit("patient", "/account/security/two-factor", submit="Turn on"),
                              Visit("provider", "/account/security/two-factor")],
    "patient.checkin": [Visit("patient", "/checkin"), Visit("patient", "/checkin", submit="Send check-in")],
    "patient.checkin_done": [Visit("patient", "/checkin/{today}/done")],
    "patient.gad7": [Visit("patient", "/gad7"), Visit("patient", "/gad7", submit="Send questionnaire")],
    "patient.gad7_done": [Visit("patient", "/gad7/{gad7_day}/done")],
    "patient.home": [Visit("patient", "/me")],
    "patient.trend": [Visit("patient", "/me/trend"), Visit("patient", "/me/trend?days=90", interactive=True)],
    "patient.settings": [Visit("patient", "/me/settings"), Visit("patient", "/me/settings", submit="Save settings")],
    "provider.dashboard": [Visit("provider", "/patients"), Visit("admin", "/patients")],
    "provider.enrol": [Visit("provider", "/patients/new"), Visit("provider", "/patients/new", submit="Enrol and send invitation")],
    "provider.report": [Visit("provider", "/report"), Visit("provider", "/report", interactive=True)],
    "provider.patient": [Visit("provider", "/patients/{patient_id}"),
                         Visit("provider", "/patients/{patient_id}", interactive=True),
                         Visit("provider", "/patients/{new_patient_id}")],
    "provider.treatments": [Visit("provider", "/patients/{patient_id}/treatments")],
    "provider.new_treatment": [Visit("provider", "/patients/{patient_id}/treatments/new"),
                               Visit("provider", "/patients/{patient_id}/treatments/new", submit="Record session")],
    "provider.edit_treatment": [Visit("provider", "/patients/{patient_id}/treatments/{treatment_id}/edit")],
    "admin.audit": [Visit("admin", "/admin/audit")],
    "admin.clinic_settings": [Visit("admin", "/admin/clinic"), Visit("admin", "/admin/clinic", submit="Save settings")],
    "admin.staff": [Visit("admin", "/admin/staff"), Visit("admin", "/admin/staff", submit="Add and email an invitation")],
    "shell.offline": [Visit("anonymous", "/offline"), Visit("patient", "/offline")],
}

# GET routes that answer with something other than a page of their own.
NOT_PAGES = {
    "index": "redirects to the signed-in person's first page",
    "health.healthz": "plain text for load balancers",
    "shell.manifest": "the web app manifest (JSON)",
    "shell.service_worker": "the service worker (JavaScript)",
    "interop.daily_questionnaire": "FHIR JSON",
    "interop.daily_codes": "FHIR JSON",
    "patient.own_record_csv": "a CSV download",
    "patient.own_record_fhir": "a JSON download",
    "provider.export_clinic": "a CSV download",
    "provider.export_patient": "a CSV download",
    "provider.export_patient_fhir": "a JSON download",
    "admin.audit_csv": "a CSV download",
    "provider.sessions_moved": "redirects to the address that replaced it",
    "provider.export_clinic_sessions_moved": "redirects to the address that replaced it",
    "provider.export_patient_sessions_moved": "redirects to the address that replaced it",
}

# Not routes, but pages people meet: the error page.
EXTRA = [Visit("anonymous", "/no-such-page"), Visit("patient", "/no-such-page")]


def get_endpoints(app) -> set[str]:
    return {r.endpoint for r in app.url_map.iter_rules() if "GET" in r.methods and r.endpoint != "static"}


def test_every_get_route_is_walked_or_said_not_to_be_a_page(app):
    endpoints = get_endpoints(app)
    assert sorted(endpoints - PAGES.keys() - NOT_PAGES.keys()) == [], "add these to PAGES or NOT_PAGES"
    assert sorted((PAGES.keys() | NOT_PAGES.keys()) - endpoints) == [], "these are no longer routes"
    assert PAGES.keys() & NOT_PAGES.keys() == set()


def test_every_principal_is_walked():
    walked = {v.principal for visits in PAGES.values() for v in visits}
    assert walked == {"anonymous", "verifying", "patient", "provider", "admin"}


# --- Seeding and walking.

def seed(users) -> dict[str, object]:
    """Forty days of patient A's check-ins with weekly sessions, a standard GAD-7 twenty days
    ago (so one is due today), a patient with nothing yet, and one live token of each kind."""
    patient = users.patient_a
    for n in range(40, -1, -1):
        add_checkin(patient, day(-n), 15 if n % 7 in (0, 6, 5) else 6,
                    side_effects={"nausea": 3 if n == 3 else None}, note="slept badly" if n == 2 else None)
    treatment = None
    for n in (35, 28, 21, 14, 7):
        treatment = add_treatment(patient, datetime.combine(day(-n), time(16), tzinfo=timezone.utc),
                                  route="intramuscular")
    gad7_day = day(-20)
    add_standard_gad7(patient, gad7_day, 9)
    enable_two_factor(users.patient_b)
    newcomer = add_patient("new@example.test", first_name="Nia", last_name="New", providers=[users.provider_a])
    records = {
        "today": TODAY.isoformat(), "gad7_day": gad7_day.isoformat(), "patient_id": patient.id,
        "new_patient_id": newcomer.id, "treatment_id": treatment.id,
        "reset": tokens.issue(users.provider_b, tokens.PASSWORD_RESET, timedelta(days=3650)),
        "invitation": tokens.issue(newcomer, tokens.INVITATION, timedelta(days=3650)),
        "two_factor_off": tokens.issue(users.patient_b, tokens.TWO_FACTOR_OFF, timedelta(days=3650)),
        "unsubscribe": tokens.unsubscribe_token(patient.id),
    }
    db.session.commit()  # the tokens, as the emails that carry them would have stored them
    return records


def sign_in(page, live_server, users, principal):
    if principal == "anonymous":
        return
    user = {"verifying": users.patient_b, "patient": users.patient_a, "provider": users.provider_a,
            "admin": users.admin}[principal]
    login_in_browser(page, live_server, user)
    page.wait_for_load_state("load")


EMPTY_THE_FORM = """button => {
    const form = button.form;
    form.noValidate = true;
    for (const el of form.elements) {
        if (el.type === 'hidden' || el.type === 'submit' || el.type === 'button') continue;
        if (el.type === 'radio' || el.type === 'checkbox') el.checked = false;
        else if (el.tagName === 'SELECT') el.selectedIndex = -1;
        else el.value = '';
    }
}"""


def open_visit(page, base, visit, records):
    page.goto(base + visit.path.format(**records), timeout=15000)
    if visit.submit:
        button = page.get_by_role("button", name=visit.submit, exact=True)
        button.evaluate(EMPTY_THE_FORM)
        with page.expect_navigation(timeout=15000):
            button.click()
        assert page.locator(".error, .error-summary").count() > 0, f"{visit}: no error shown"
    if visit.interactive:
        buttons = page.get_by_role("button", name="Interactive chart")
        for i in range(buttons.count()):
            buttons.nth(i).click()
        page.locator(".chart-drawn .main-svg").nth(max(0, 2 * buttons.count() - 1)).wait_for(timeout=15000)


# Only colours change between the schemes: the dark run checks the rules about colour.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]


def start_axe(page, rules: list[str] | None = None) -> None:
    """Start axe on the page without waiting: the phone's and the laptop's run side by side."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        page.evaluate(AXE_SCRIPT)  # once per document, not once per run
    only = {"type": "rule", "values": rules} if rules else {"type": "tag", "values": AXE_TAGS}
    page.evaluate("options => { window.axeRun = axe.run(document, options); }",
                  {"runOnly": only, "resultTypes": ["violations"]})


def axe_problems(page, where: str) -> list[str]:
    results = page.evaluate("() => window.axeRun")
    return [f"{where}: {v['id']} ({v['impact']}) at {[n['target'] for n in v['nodes']][:4]}: "
            f"{v['nodes'][0].get('failureSummary', '')[:300]}"
            for v in results["violations"]]


def walk(browser, live_server, users, records, principal, visits) -> list[str]:
    """Each visit on the phone and the laptop, in step; light with every rule, then dark with
    the rules about colour."""
    problems, errors, pages = [], [], {}
    for name, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport, is_mobile=name == "phone", has_touch=name == "phone")
        context.set_default_timeout(15000)
        page = pages[name] = context.new_page()
        page.on("pageerror", lambda e, name=name: errors.append(f"{principal} {name}: script error {e}"))
        sign_in(page, live_server, users, principal)
    for visit in visits:
        where = f"{principal} VIEWPORT SCHEME {visit.path}" + (" (errors)" if visit.submit else "") + (
            " (interactive)" if visit.interactive else "")
        for page in pages.values():
            open_visit(page, live_server, visit, records)
        for scheme, rules in (("light", None), ("dark", COLOUR_RULES)):
            for name, page in pages.items():
                page.emulate_media(color_scheme=scheme)
                # The dark theme is really on (else the dark run would prove nothing).
                assert scheme == "light" or page.evaluate(DARK_BACKGROUND), f"{name} {visit.path}: not dark"
                start_axe(page, rules)
            for name, page in pages.items():
                problems += axe_problems(page, where.replace("VIEWPORT", name).replace("SCHEME", scheme))
        for page in pages.values():
            page.emulate_media(color_scheme="light")
    for page in pages.values():
        page.context.close()
    return problems + errors


@pytest.mark.parametrize("principal", ["anonymous", "verifying", "patient", "provider", "admin"])
def test_axe_finds_no_wcag_violation_on_any_page(live_server, browser, users, principal):
    records = seed(users)
    visits = [v for visits in PAGES.values() for v in visits if v.principal == principal]
    visits += [v for v in EXTRA if v.principal == principal]
    assert visits
    problems = walk(browser, live_server, users, records, principal, visits)
    assert not problems, "\n".join(problems)
