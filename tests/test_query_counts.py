"""The pages that read a patient's whole history run a fixed number of queries, however long
that history is: no query per check-in, per treatment session or per revision. (Committing
before the page is rendered would expire every loaded row and reload them one by one; the
"viewed" audit is written after rendering for that reason, see monitor/audit.py.)"""
from datetime import timedelta

import pytest

from sqlalchemy import inspect

from monitor.checkins import save_checkin
from monitor.extensions import db
from tests.factories import (NOW, add_checkin, add_patient, add_standard_gad7, add_treatment, answers_for,
                             counted_queries, day, edit_treatment, login,
                             page_statements)


def add_history(patient, provider, days: int) -> None:
    """`days` daily check-ins up to yesterday, a treatment every 7 days, a standard GAD-7 every
    14, and some of each edited (revisions), all through the services the web forms use."""
    for n in range(days, 0, -1):
        add_checkin(patient, day(-n), 4 + n % 11, side_effects={"nausea": n % 4}, now=NOW - timedelta(days=n))
        if n % 14 == 0 or n == days:
            add_standard_gad7(patient, day(-n), 3 + n % 17, now=NOW - timedelta(days=n))
        if n % 5 == 0:  # answered again later that day: a revision
            add_checkin(patient, day(-n), 5 + n % 9, note="again", now=NOW - timedelta(days=n, hours=-1))
    for n in range(days, 0, -7):
        treatment = add_treatment(patient, NOW - timedelta(days=n), route="intramuscular", recorded_by=provider,
                                  now=NOW - timedelta(days=n))
        if n % 3 == 0:
            edit_treatment(treatment, edited_by=provider, dose="60")


def queries_for(client, url: str) -> tuple[int, int]:
    """Statements of a view that reads afresh, and of the next (which may keep what it read)."""
    return tuple(len(statements) for statements in page_statements(client, url))


@pytest.mark.parametrize("page", ["/patients/{id}", "/patients/{id}?checkins=all", "/patients"])
def test_the_query_count_does_not_grow_with_the_history(client, users, page):
    patient, provider = users.patient_a, users.provider_a
    login(client, provider)
    url = page.format(id=patient.id)
    add_history(patient, provider, days=3)
    short = queries_for(client, url)
    add_history(users.patient_a, provider, days=120)  # earlier dates are new; recent ones revised
    long = queries_for(client, url)
    assert long == short


def add_panel_patients(provider, first: int, count: int) -> None:
    for n in range(first, first + count):
        patient = add_patient(f"panel{n}@example.test", first_name="P", last_name=f"Panel {n:03}", providers=[provider])
        add_checkin(patient, day(-1), 5 + n % 9)
        for k in range(3):  # a baseline and two more: the dashboard shows the latest and the change
            add_standard_gad7(patient, day(-14 * k), 4 + (n + k) % 15)


def test_the_dashboard_reads_the_standard_gad7s_in_one_query_however_large_the_panel(client, users):
    """Issue 12: the page's latest standard GAD-7 and its change from the first come from one
    query for the rows on the page, so the count is the same for 3 patients as for 60 (more
    than a page)."""
    login(client, users.provider_a)
    add_panel_patients(users.provider_a, 0, 2)
    small = queries_for(client, "/patients")
    add_panel_patients(users.provider_a, 2, 58)
    large = queries_for(client, "/patients")
    assert large == small



def test_replacing_a_checkin_does_not_read_its_earlier_versions(users):
    """The check-in write path (issue 9): a date answered again many times costs what a date
    answered again once does. The revision is added by id, never appended to a loaded list
    of every earlier version."""
    for total in range(5):
        add_checkin(users.patient_a, day(0), total)
    db.session.expire_all()
    result = save_checkin(users.patient_a, day(0), answers_for(9), {}, None)
    assert result.outcome == "replaced"
    assert "revisions" not in inspect(result.checkin).dict  # never loaded
    db.session.commit()
    assert len(result.checkin.revisions) == 5


def checkin_queries(client, total: int) -> int:
    form = {"local_date": day(0).isoformat(), "submission_key": "", **{k: str(v) for k, v in answers_for(total).items()}}
    with counted_queries() as statements:
        response = client.post("/checkin", data=form)
    assert response.status_code == 303
    return len(statements)


def test_a_checkin_costs_a_fixed_small_number_of_queries_however_long_the_history(client, users):
    """The check-in write path (issue 9): signing-in bookkeeping, the save and the refresh of
    the stored analysis cost the same number of statements after three days as after a year."""
    patient, provider = users.patient_a, users.provider_a
    login(client, patient)
    add_history(patient, provider, days=3)
    checkin_queries(client, 5)  # today's check-in created
    short = checkin_queries(client, 9)  # and replaced
    add_history(patient, provider, days=60)
    months = checkin_queries(client, 13)
    add_history(patient, provider, days=365)
    year = checkin_queries(client, 4)
    # The browser's session (one read of web_sessions, no write: nothing in it changed); the
    # sign-in row with the user; the day's check-in read; the plan (settings, the stored
    # summary, the session results, the check-ins of the touched sessions' days); the check-in's
    # revision and update; the plan written (the summary's update, the changed session results
    # and change sums deleted and inserted, the clinic's counts; a lock on PostgreSQL). When the
    # stored analysis is stale (here after history was added behind its back) the plan gives
    # way to a whole refresh, a fixed set of statements too. A write with nothing to write is
    # left out, so the count varies with what changed, never with how long the history is.
    assert max(short, months, year) <= 21
