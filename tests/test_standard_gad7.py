"""The standard GAD-7 (SPEC 2.2, issue 12): when it is due, the patient's flow after the daily
check-in, its form and scoring, "later", and who may see a result."""
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from monitor import patient_status, standard_gad7
from monitor.extensions import db
from monitor.instruments import (GAD7_DIFFICULTY_OPTIONS, GAD7_DIFFICULTY_QUESTION, GAD7_NOTICE, GAD7_OPTIONS,
                                 GAD7_STEM, ITEMS)
from monitor.models import StandardGad7, User
from tests.factories import TODAY, add_checkin, add_standard_gad7, answers_for, day, login, own_scripts


def gad7_form(values=(2, 2, 1, 1, 0, 1, 2), difficulty=None) -> dict:
    data = {f"q{i}": str(v) for i, v in enumerate(values, start=1) if v is not None}
    if difficulty is not None:
        data["difficulty"] = str(difficulty)
    return data


def count_gad7s() -> int:
    return db.session.scalar(select(func.count()).select_from(StandardGad7))


@pytest.fixture
def alice(client, users):
    login(client, users.patient_a)
    return users.patient_a


@pytest.fixture
def checked_in(alice):
    add_checkin(alice, TODAY, 6)
    return alice


# --- The due rule (pure).

def test_the_baseline_is_due_before_any_standard_gad7():
    assert standard_gad7.is_due(None, TODAY)


@pytest.mark.parametrize("days_since, due", [(0, False), (1, False), (13, False), (14, True), (15, True), (40, True)])
def test_due_once_14_days_have_passed_not_on_day_13(days_since, due):
    assert standard_gad7.is_due(TODAY - timedelta(days=days_since), TODAY) is due


def test_later_puts_it_off_for_today_only():
    last = TODAY - timedelta(days=20)
    assert not standard_gad7.is_due(last, TODAY, deferred_on=TODAY)
    assert standard_gad7.is_due(last, TODAY + timedelta(days=1), deferred_on=TODAY)
    assert standard_gad7.is_due(last, TODAY, deferred_on=TODAY - timedelta(days=1))


def test_a_paused_or_discharged_patient_is_not_asked():
    assert not standard_gad7.is_due(None, TODAY, active=False)


def test_next_due_is_14_days_after_the_last():
    assert standard_gad7.next_due(date(2026, 11, 1)) == date(2026, 11, 15)
    assert standard_gad7.next_due(None) is None


# --- Scoring and bands (Spitzer 2006).

@pytest.mark.parametrize("total, band", [(0, "Minimal"), (4, "Minimal"), (5, "Mild"), (9, "Mild"), (10, "Moderate"),
                                         (14, "Moderate"), (15, "Severe"), (21, "Severe")])
def test_severity_bands_at_their_edges(total, band):
    assert standard_gad7.severity(total).label == band


def test_the_difficulty_is_not_added_to_the_total(users):
    row = add_standard_gad7(users.patient_a, TODAY, 9, difficulty=3)
    assert (row.total, row.difficulty) == (9, 3)


@pytest.mark.parametrize("points, text", [
    (-5, "−5 points since the first (14 → 9): at least the MCID of 4"),
    (-4, "−4 points since the first (14 → 10): at least the MCID of 4"),
    (-3, "−3 points since the first (14 → 11): less than the MCID of 4"),
    (4, "+4 points since the first (14 → 18): at least the MCID of 4"),
    (1, "+1 point since the first (14 → 15): less than the MCID of 4"),
    (0, "No change since the first (14 → 14): less than the MCID of 4"),
])
def test_the_change_from_the_first_marks_the_mcid_of_4(points, text):
    change = standard_gad7.change_from_baseline([14, 20, 14 + points])
    assert standard_gad7.describe_change(change) == text
    assert change.meaningful is (abs(points) >= 4)


def test_summaries_load_first_and_latest_of_many_patients(users):
    for n, total in enumerate([14, 12, 9]):
        add_standard_gad7(users.patient_a, day(-14 * (2 - n)), total)
    add_standard_gad7(users.patient_b, day(-3), 16)
    found = standard_gad7.summaries([users.patient_a.id, users.patient_b.id, users.admin.id])
    a, b = found[users.patient_a.id], found[users.patient_b.id]
    assert (a.first_date, a.first, a.latest_date, a.latest, a.count) == (day(-28), 14, TODAY, 9, 3)
    assert a.change_text() == "−5 points since the first (14 → 9): at least the MCID of 4"
    assert (b.first, b.latest, b.count, b.change, b.change_text()) == (16, 16, 1, None, None)
    assert users.admin.id not in found
    assert standard_gad7.summaries([]) == {}


# --- The form.

def test_the_form_shows_the_stem_items_answers_difficulty_and_notice_verbatim(client, checked_in):
    html = client.get("/gad7").get_data(as_text=True)
    assert GAD7_STEM in html
    for _, wording in ITEMS:
        assert f"<legend>{wording}</legend>" in html
    for option in GAD7_OPTIONS:
        assert html.count(f"> {option.label}</label>") == 7
    assert f"<legend>{GAD7_DIFFICULTY_QUESTION}</legend>" in html
    for option in GAD7_DIFFICULTY_OPTIONS:
        assert html.count(f"> {option.label}</label>") == 1
    assert GAD7_NOTICE.replace("©", "&copy;") in html or GAD7_NOTICE in html
    assert "This app is not monitored 24/7" in html


def test_the_form_is_plain_labelled_radios_with_large_targets_and_no_script(client, checked_in):
    html = client.get("/gad7").get_data(as_text=True)
    assert own_scripts(html) == []
    assert html.count('type="radio"') == 7 * 4 + 4
    # Each radio sits inside its label, which static/css/app.css makes a 48 px tall target.
    assert html.count('<label><input type="radio"') == 7 * 4 + 4
    assert html.count('<div class="options">') == 8
    assert 'name="viewport" content="width=device-width' in html
    css = client.get("/static/css/app.css").get_data(as_text=True)
    assert ".options label { display: flex; align-items: center; gap: .75rem; min-height: 48px;" in css
    assert 'name="csrf_token"' in html


def test_the_form_names_each_missing_answer_and_stores_nothing(client, checked_in):
    response = client.post("/gad7", data=gad7_form((1, None, 2, None, 0, 1, None)))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    for missing in (1, 3, 6):  # items 2, 4 and 7
        assert f'<a href="#q{missing + 1}">{ITEMS[missing][1]}</a>: Choose an answer.' in html
    assert '<a href="#q1">' not in html
    assert 'value="2" checked' in html  # the answers given are kept
    assert count_gad7s() == 0


@pytest.mark.parametrize("field, value, message", [
    ("q3", "4", "The answer must be from 0 to 3."),
    ("q3", "two", "The answer must be a whole number."),
    ("difficulty", "7", "The answer must be from 0 to 3."),
])
def test_an_answer_out_of_range_is_refused_with_a_message(client, checked_in, field, value, message):
    response = client.post("/gad7", data={**gad7_form(), field: value})
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)
    assert count_gad7s() == 0


def test_the_csrf_token_is_required(app, client, checked_in):
    app.config["WTF_CSRF_ENABLED"] = True
    response = client.post("/gad7", data=gad7_form())
    assert response.status_code in (400, 403)
    assert count_gad7s() == 0


# --- The flow, end to end.

def test_the_first_sign_in_asks_the_checkin_first_then_the_baseline_gad7(client, alice):
    home = client.get("/me").get_data(as_text=True)
    assert "Do today's check-in" in home and 'action="/gad7/later"' not in home
    # Straight to the GAD-7 before today's check-in: sent to the check-in.
    response = client.get("/gad7")
    assert response.status_code == 303 and response.headers["Location"].endswith("/checkin")
    assert client.post("/gad7", data=gad7_form()).headers["Location"].endswith("/checkin")
    assert count_gad7s() == 0
    form = {**{k: str(v) for k, v in answers_for(6).items()}, "local_date": TODAY.isoformat(), "submission_key": ""}
    done = client.post("/checkin", data=form, follow_redirects=True).get_data(as_text=True)
    assert "your check-in is saved" in done
    assert "Your two-week questionnaire is due" in done and 'href="/gad7"' in done
    response = client.post("/gad7", data=gad7_form((3, 2, 2, 1, 1, 1, 0), difficulty=3))
    assert response.status_code == 303 and response.headers["Location"].endswith(f"/gad7/{TODAY}/done")
    result = client.get(response.headers["Location"]).get_data(as_text=True)
    assert '<p class="total">10 <small>out of 21</small></p>' in result  # difficulty 3 not added
    assert "band-moderate\">Moderate</span>" in result
    saved = db.session.scalar(select(StandardGad7))
    assert (saved.local_date, saved.total, saved.difficulty, saved.source) == (TODAY, 10, 3, "web")
    assert saved.answers() == {"q1": 3, "q2": 2, "q3": 2, "q4": 1, "q5": 1, "q6": 1, "q7": 0}
    # Done for today: no offer, and the address shows today's result instead of a second form.
    assert "Your two-week questionnaire is due" not in client.get("/me").get_data(as_text=True)
    assert client.get("/gad7").headers["Location"].endswith(f"/gad7/{TODAY}/done")


def test_a_second_submit_the_same_day_stores_nothing_more(client, checked_in):
    client.post("/gad7", data=gad7_form((1, 1, 1, 1, 1, 1, 1)))
    response = client.post("/gad7", data=gad7_form((3, 3, 3, 3, 3, 3, 3)))
    assert response.headers["Location"].endswith(f"/gad7/{TODAY}/done")
    assert [r.total for r in standard_gad7.history(checked_in.id)] == [7]


def test_home_offers_it_once_todays_checkin_is_done(client, checked_in):
    html = client.get("/me").get_data(as_text=True)
    assert "Your two-week questionnaire is due" in html
    assert 'action="/gad7/later"' in html and ">Later</button>" in html


def test_a_late_entry_for_yesterday_does_not_offer_it(client, alice):
    add_checkin(alice, day(-1), 6)
    html = client.get(f"/checkin/{day(-1)}/done").get_data(as_text=True)
    assert "Your two-week questionnaire is due" not in html


@pytest.mark.parametrize("days_since, offered", [(13, False), (14, True)])
def test_offered_again_14_days_after_the_last(client, checked_in, days_since, offered):
    add_standard_gad7(checked_in, day(-days_since), 12)
    assert ("Your two-week questionnaire is due" in client.get("/me").get_data(as_text=True)) is offered
    response = client.get("/gad7")
    assert (response.status_code == 200) is offered
    if not offered:
        assert response.headers["Location"].endswith("/me")
        assert client.post("/gad7", data=gad7_form()).status_code == 303
        assert count_gad7s() == 1


def test_later_hides_it_today_and_it_is_due_again_tomorrow(app, client, checked_in):
    response = client.post("/gad7/later")
    assert response.status_code == 303 and response.headers["Location"].endswith("/me")
    db.session.expire_all()
    assert db.session.get(User, checked_in.id).gad7_deferred_on == TODAY
    assert "Your two-week questionnaire is due" not in client.get("/me").get_data(as_text=True)
    assert "Your two-week questionnaire is due" not in client.get(f"/checkin/{TODAY}/done").get_data(as_text=True)
    # Still answerable today by going back to it, and due again tomorrow.
    assert client.get("/gad7").status_code == 200
    patient = db.session.get(User, checked_in.id)
    assert standard_gad7.offered(patient, None, TODAY + timedelta(days=1))
    assert count_gad7s() == 0


@pytest.mark.parametrize("status", ["paused", "discharged"])
def test_a_paused_or_discharged_patient_is_not_asked_in_the_app(client, users, checked_in, status):
    patient_status.change(checked_in, status, actor=users.provider_a)
    db.session.commit()
    assert "Your two-week questionnaire is due" not in client.get("/me").get_data(as_text=True)
    assert client.get("/gad7").status_code == 303
    client.post("/gad7", data=gad7_form())
    client.post("/gad7/later")
    assert count_gad7s() == 0


# --- Who may see a result.

def test_another_patients_result_is_not_found(client, users):
    add_standard_gad7(users.patient_b, TODAY, 9)
    login(client, users.patient_a)
    assert client.get(f"/gad7/{TODAY}/done").status_code == 404
    assert client.get("/gad7/not-a-date/done").status_code == 404


def test_staff_cannot_reach_the_patient_pages(client, users):
    add_standard_gad7(users.patient_a, TODAY, 9)
    for staff in (users.provider_a, users.admin):
        login(client, staff)
        assert client.get(f"/gad7/{TODAY}/done").status_code == 404
        assert client.get("/gad7").status_code == 404
        assert client.post("/gad7/later").status_code == 404
        client.post("/logout")
