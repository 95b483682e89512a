"""Counts in words (issue 13): every count the app writes, in pages, emails and chart sentences,
goes through monitor.wording.plural, so 0, 1 and 2 each read right ("1 day", "2 days",
"0 check-ins"), never "1 days" or "1 check-ins"."""
import re
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from flask import render_template

import monitor
from monitor import dashboard, mail, paging, standard_gad7
from monitor.analysis import PatientData
from monitor.charts import cohort, individual
from monitor.durability import PatientAnalysis
from monitor.wording import plural
from tests.factories import TODAY, add_provider, login

COUNTS = (0, 1, 2)


def test_plural_gives_the_word_that_fits_the_count():
    assert [plural(n, "day") for n in COUNTS] == ["0 days", "1 day", "2 days"]
    assert plural(1, "patient has", "patients have") == "1 patient has"
    assert plural(3, "patient has", "patients have") == "3 patients have"
    assert plural(4.0, "point") == "4 points" and plural(1.0, "point") == "1 point"
    assert plural(2, "browser or device", "browsers or devices", number=False) == "browsers or devices"


def word(n: int, singular: str, plural_form: str | None = None) -> str:
    """What a count must read as, written out here rather than by the helper under test."""
    return f"{n} {singular if n == 1 else plural_form or singular + 's'}"


def _data(totals: dict) -> PatientData:
    data = PatientData(SimpleNamespace(timezone="America/New_York"), TODAY)
    data.totals = totals
    data.analysis = PatientAnalysis(None, [], None, 0)
    return data


# Each place that writes a count: a function of the count that returns the text written, and
# the phrase that must be in it.
PLACES = {
    "email: provider digest": (
        lambda n: mail.render_message("provider_digest", "p@clinic.test", count=n,
                                      dashboard_url="https://x.test/patients").get_body(("plain",)).get_content(),
        lambda n: word(n, "patient has", "patients have")),
    "email: provider digest, HTML": (
        lambda n: mail.render_message("provider_digest", "p@clinic.test", count=n,
                                      dashboard_url="https://x.test/patients").get_body(("html",)).get_content(),
        lambda n: word(n, "patient has", "patients have")),
    "email: invitation": (
        lambda n: mail.render_message("invitation", "a@example.test", first_name="A", link="https://x.test/l",
                                      hours=n).get_body(("plain",)).get_content(),
        lambda n: f"expires in {word(n, 'hour')}"),
    "email: password reset": (
        lambda n: mail.render_message("password_reset", "a@example.test", first_name="A", link="https://x.test/l",
                                      minutes=n).get_body(("plain",)).get_content(),
        lambda n: f"expires in {word(n, 'minute')}"),
    "email: two-step sign-in off": (
        lambda n: mail.render_message("two_factor_off", "a@example.test", first_name="A", link="https://x.test/l",
                                      minutes=n).get_body(("html",)).get_content(),
        lambda n: f"expires in {word(n, 'minute')}"),
    "page: too many attempts": (
        lambda n: render_template("errors/429.html", minutes=n),
        lambda n: f"wait {word(n, 'minute')}"),
    "patient's trend sentence: days checked in": (
        lambda n: individual.own_trend({TODAY - timedelta(days=i): 5 for i in range(n)}, [], TODAY, 30).summary
        if n else individual.own_trend({}, [], TODAY, 1).summary,
        lambda n: f"you checked in on {word(n, 'day')}" if n else f"No check-ins in the last {word(1, 'day')} yet"),
    "patient's trend sentence: sessions": (
        lambda n: individual.own_trend({TODAY: 5}, [TODAY - timedelta(days=i) for i in range(n)], TODAY, 30).summary,
        lambda n: f"with {word(n, 'treatment session')}"),
    "provider's timeline sentence: check-ins": (
        lambda n: individual.timeline_summary(_data({TODAY - timedelta(days=i): 5 for i in range(max(n, 1))}),
                                              [], sorted(TODAY - timedelta(days=i) for i in range(n))),
        lambda n: f"{word(n, 'check-in')} from" if n else "No check-ins yet"),
    "provider's timeline sentence: standard GAD-7s": (
        lambda n: individual.timeline_summary(_data({}), [], [],
                                              [(TODAY - timedelta(days=14 * i), 9) for i in range(max(n, 1))]),
        lambda n: f"{word(max(n, 1), 'standard GAD-7')} (diamonds)"),
    "report: how long the benefit holds": (
        lambda n: cohort.survival_chart([(0, 1.0)], None, [], n, 0).summary,
        lambda n: f"Of {word(n, 'responding session')}" if n else "No responding sessions yet"),
    "report: days as text": (
        lambda n: cohort.days_text(n),
        lambda n: word(n, "day")),
    "standard GAD-7: change in points": (
        lambda n: standard_gad7.describe_change(standard_gad7.change_from_baseline([10, 10 - n])),
        lambda n: f"−{word(n, 'point')} since the first" if n else "No change since the first"),
    "dashboard legend: MCID in points": (
        lambda n: " ".join(text for _, text in dashboard.legend(mcid=n, lapse_days=3)),
        lambda n: f"at least {word(n, 'point')} above"),
    "pages: past the last page (there is always a page 1)": (
        lambda n: _no_such_page(max(n, 1)),
        lambda n: f"only {word(max(n, 1), 'page')}"),
}


def _no_such_page(pages: int) -> str:
    """The refusal of the page after the last of a history `pages` pages of 14 days long."""
    try:
        paging.window(pages + 1, TODAY, TODAY - timedelta(days=14 * pages - 1), 14)
    except paging.NoSuchPage as refused:
        return str(refused)
    return ""


@pytest.mark.parametrize("count", COUNTS)
@pytest.mark.parametrize("place", list(PLACES))
def test_each_count_reads_right_for_0_1_and_2(app, place, count):
    render, expected = PLACES[place]
    with app.test_request_context():
        text = " ".join(render(count).split())
    assert expected(count) in text
    assert not re.search(r"\b1 (days|check-ins|sessions|patients|hours|minutes|points|pages|GAD-7s)\b", text)


@pytest.mark.parametrize("count", COUNTS)
def test_the_report_counts_patients_in_words(client, users, count):
    # users has two patients already: the admin's report counts them and `count` - 2 more, or
    # a provider's panel of one, for 1; the 0 case is a provider with an empty panel.
    viewer = {0: users.provider_a, 1: users.provider_a, 2: users.admin}[count]
    if count == 0:
        viewer = _provider_without_patients()
    login(client, viewer)
    html = " ".join(client.get("/report").get_data(as_text=True).split())
    assert f"{word(count, 'patient')} (" in html


def _provider_without_patients():
    return add_provider("empty@clinic.test", first_name="Erin", last_name="Empty")


# Hand-rolled plurals ({{ 's' if n != 1 }}, f"...{'' if n == 1 else 's'}") are how "1 days"
# came about: every count goes through plural() instead.
HAND_ROLLED = re.compile(r"""(['"])s?\1 if [^\n]*?[!=]= ?1\b|(['"])s\2 if |\{\{ *[\w.|() ]+ *\}\} (days|check-ins|sessions|patients|minutes|hours|points)\b""")


def test_no_template_or_module_writes_a_plural_by_hand():
    root = Path(monitor.__file__).parent
    found = []
    for path in [*root.rglob("*.html"), *root.rglob("*.txt"), *root.rglob("*.py")]:
        if "migrations" in path.parts:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            if HAND_ROLLED.search(line):
                found.append(f"{path.relative_to(root)}:{number}: {line.strip()[:100]}")
    assert found == []
