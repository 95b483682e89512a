"""The daily check-in page (SPEC 2.1): wording, validation, one per local date, backfill."""
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from monitor import timeutil
from monitor.checkins import save_checkin
from monitor.extensions import db
from monitor.instruments import DAILY_OPTIONS, DAILY_STEM, ITEMS, SIDE_EFFECTS
from monitor.models import CheckIn, CheckInRevision
from tests.factories import APP_SCRIPT, NOW, TODAY, answers_for, form_key, login, own_scripts  # TODAY: the frozen clock's date, in New York


def answers(values=(2, 2, 1, 1, 0, 1, 2), **extra):
    data = {f"q{i}": str(v) for i, v in enumerate(values, start=1)}
    data.update({"local_date": TODAY.isoformat(), "submission_key": form_key("k-" + "".join(map(str, values)))})
    data.update(extra)
    return data


@pytest.fixture
def alice(client, users):
    login(client, users.patient_a)
    return users.patient_a


def count_checkins():
    return db.session.scalar(select(func.count()).select_from(CheckIn))


def test_page_shows_every_item_option_and_the_stem_verbatim(client, alice):
    html = client.get("/checkin").get_data(as_text=True)
    assert DAILY_STEM in html
    for code, wording in ITEMS:
        assert f"<legend>{wording}</legend>" in html
    for _, label in DAILY_OPTIONS:
        assert html.count(f"> {label}</label>") == 7
    for _, label in SIDE_EFFECTS:
        assert f"<legend>{label}</legend>" in html
    assert "This app is not monitored 24/7" in html


def test_page_is_a_plain_form_that_needs_no_javascript(client, alice):
    html = client.get("/checkin").get_data(as_text=True)
    assert APP_SCRIPT.search(html)  # the offline queue: an enhancement, not a need
    # No script of its own (the app-wide idle warning and offline queue aside).
    assert own_scripts(html) == []
    assert 'method="post"' in html
    assert html.count('type="radio"') == 7 * 4 + 7 * 4
    assert 'name="viewport" content="width=device-width' in html


def test_item_wording_and_options_match_the_spec():
    assert [w for _, w in ITEMS] == [
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ]
    assert DAILY_OPTIONS == [(0, "Not at all"), (1, "A little"), (2, "Quite a bit"), (3, "Very much")]
    assert DAILY_STEM == "Over the past 24 hours, how much have you been bothered by the following problems?"


def test_submit_stores_the_checkin_and_confirms_total_and_band(client, alice):
    r = client.post("/checkin", data=answers((3, 3, 2, 2, 1, 1, 0)))
    assert r.status_code == 303
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert ">12 <small>out of 21</small>" in page
    assert "Moderate" in page
    c = db.session.scalar(select(CheckIn))
    assert (c.patient_id, c.local_date, c.total, c.late_entry) == (alice.id, TODAY, 12, False)
    assert c.answers() == {"q1": 3, "q2": 3, "q3": 2, "q4": 2, "q5": 1, "q6": 1, "q7": 0}


@pytest.mark.parametrize("values, band", [
    ((0, 0, 0, 0, 0, 0, 0), "Minimal"), ((1, 1, 1, 1, 0, 0, 0), "Minimal"),
    ((1, 1, 1, 1, 1, 0, 0), "Mild"), ((2, 2, 2, 1, 1, 1, 0), "Mild"),
    ((2, 2, 2, 2, 1, 1, 0), "Moderate"), ((2, 2, 2, 2, 2, 2, 2), "Moderate"),
    ((3, 2, 2, 2, 2, 2, 2), "Severe"), ((3, 3, 3, 3, 3, 3, 3), "Severe"),
])
def test_band_cut_points(client, alice, values, band):
    r = client.post("/checkin", data=answers(values))
    assert f'>{band}</span>' in client.get(r.headers["Location"]).get_data(as_text=True)


@pytest.mark.parametrize("field, value, message", [
    ("q1", None, "Choose an answer."),
    ("q4", "", "Choose an answer."),
    ("q2", "4", "The answer must be from 0 to 3."),
    ("q3", "-1", "The answer must be from 0 to 3."),
    ("q7", "two", "The answer must be a whole number."),
    ("q5", "1.5", "The answer must be a whole number."),
    ("se_nausea", "9", "The answer must be from 0 to 3."),
    ("se_headache", "x", "The answer must be a whole number."),
    ("note", "n" * 1001, "The note must be at most 1,000 characters."),
])
def test_bad_input_names_the_problem_and_stores_nothing(client, alice, field, value, message):
    data = answers()
    if value is None:
        del data[field]
    else:
        data[field] = value
    r = client.post("/checkin", data=data)
    assert r.status_code == 400
    html = r.get_data(as_text=True)
    assert message in html
    assert count_checkins() == 0


def test_error_summary_links_to_the_item_by_its_wording(client, alice):
    data = answers()
    del data["q6"]
    html = client.post("/checkin", data=data).get_data(as_text=True)
    assert '<a href="#q6">Becoming easily annoyed or irritable</a>: Choose an answer.' in html


def test_a_thousand_character_note_is_accepted(client, alice):
    assert client.post("/checkin", data=answers(note="n" * 1000)).status_code == 303
    assert len(db.session.scalar(select(CheckIn)).note) == 1000


def test_resubmission_replaces_and_keeps_the_earlier_version(client, alice):
    client.post("/checkin", data=answers((3, 3, 3, 3, 3, 3, 3)))
    client.post("/checkin", data=answers((1, 1, 1, 1, 1, 1, 1)))
    assert count_checkins() == 1
    assert db.session.scalar(select(CheckIn)).total == 7
    revisions = db.session.scalars(select(CheckInRevision)).all()
    assert [r.total for r in revisions] == [21]


def test_a_double_tapped_submit_is_stored_once(client, alice):
    data = answers((2, 2, 2, 2, 2, 2, 2))
    first = client.post("/checkin", data=data)
    second = client.post("/checkin", data=data)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count_checkins() == 1
    assert db.session.scalar(select(func.count()).select_from(CheckInRevision)) == 0


def test_editing_prefills_the_existing_answers(client, alice):
    client.post("/checkin", data=answers((3, 0, 0, 0, 0, 0, 0), se_dizziness="2"))
    html = client.get("/checkin").get_data(as_text=True)
    assert "You already checked in for this day" in html
    assert 'name="q1" value="3" checked' in html
    assert 'name="se_dizziness" value="2" checked' in html


@pytest.mark.parametrize("days_back", [1, 2, 3])
def test_the_previous_three_days_can_be_backfilled_as_late_entries(client, alice, days_back):
    day = date.fromordinal(TODAY.toordinal() - days_back)
    assert client.post("/checkin", data=answers(local_date=day.isoformat())).status_code == 303
    c = db.session.scalar(select(CheckIn))
    assert (c.local_date, c.late_entry) == (day, True)


@pytest.mark.parametrize("day, message", [
    ("2026-11-27", "You cannot check in for a future date."),
    ("2026-11-22", "Check-ins can be entered for today and the previous 3 days only."),
    ("2026-02-30", "That is not a valid date."),
    ("yesterday", "That is not a valid date."),
])
def test_dates_outside_the_window_are_refused(client, alice, day, message):
    r = client.post("/checkin", data=answers(local_date=day))
    assert r.status_code == 400
    assert message in r.get_data(as_text=True)
    assert count_checkins() == 0


def test_get_with_a_future_day_is_refused(client, alice):
    r = client.get("/checkin?day=2026-11-27")
    assert r.status_code == 400
    assert "You cannot check in for a future date." in r.get_data(as_text=True)


def test_local_date_follows_the_patients_time_zone(client, users):
    # 01:30 UTC on the 27th is still the 26th in New York but already the 27th in London.
    timeutil.freeze(datetime(2026, 11, 27, 1, 30, tzinfo=timezone.utc))
    login(client, users.patient_b)  # Europe/London
    client.post("/checkin", data=answers(local_date="2026-11-27"))
    assert db.session.scalar(select(CheckIn)).local_date == date(2026, 11, 27)
    client.post("/logout")
    login(client, users.patient_a)  # America/New_York
    r = client.post("/checkin", data=answers(local_date="2026-11-27"))
    assert "You cannot check in for a future date." in r.get_data(as_text=True)


def test_a_severe_side_effect_says_contact_your_clinic_with_its_phone(client, alice):
    from monitor.clinic import get_clinic
    get_clinic().phone = "+1 555 0100"
    db.session.commit()
    r = client.post("/checkin", data=answers(se_dissociation="3"))
    html = client.get(r.headers["Location"]).get_data(as_text=True)
    assert "Contact your clinic today" in html
    assert "+1 555 0100" in html


def test_no_contact_message_without_a_severe_side_effect(client, alice):
    r = client.post("/checkin", data=answers(se_dissociation="2"))
    assert "Contact your clinic today" not in client.get(r.headers["Location"]).get_data(as_text=True)


def test_staff_have_no_checkin_page(client, users):
    login(client, users.provider_a)
    assert client.get("/checkin").status_code == 404
    assert client.post("/checkin", data=answers()).status_code == 404
    assert count_checkins() == 0


def test_anonymous_is_sent_to_sign_in(client, users):
    r = client.get("/checkin")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_confirmation_of_another_day_without_checkin_is_404(client, alice):
    assert client.get("/checkin/2026-11-20/done").status_code == 404
    assert client.get("/checkin/not-a-date/done").status_code == 404


# --- A late entry's stem names its day (SPEC 2.1, issue 13).

SUNDAY_STEM = "On Sunday 29 November, how much were you bothered by the following problems?"


def _on_monday_30_november(client, users):
    timeutil.freeze(datetime(2026, 11, 30, 15, 0, tzinfo=timezone.utc))  # 10:00 in New York
    login(client, users.patient_a)


def test_a_late_entrys_stem_names_its_day_in_the_specs_words(client, users):
    _on_monday_30_november(client, users)
    html = client.get("/checkin?day=2026-11-29").get_data(as_text=True)
    assert f'<p class="stem" id="stem">{SUNDAY_STEM}</p>' in html
    assert DAILY_STEM not in html
    assert 'name="local_date" value="2026-11-29"' in html


def test_todays_stem_is_the_past_24_hours(client, alice):
    html = client.get("/checkin").get_data(as_text=True)
    assert f'<p class="stem" id="stem">{DAILY_STEM}</p>' in html
    assert "how much were you bothered" not in html


def test_a_refused_late_entry_keeps_the_stem_of_its_day(client, users):
    _on_monday_30_november(client, users)
    data = answers(local_date="2026-11-29")
    del data["q3"]
    response = client.post("/checkin", data=data)
    assert response.status_code == 400
    assert SUNDAY_STEM in response.get_data(as_text=True)


def test_the_day_is_chosen_by_links_that_reload_the_page_without_javascript(client, alice):
    html = client.get("/checkin").get_data(as_text=True)
    assert own_scripts(html) == []
    for n in range(4):
        assert f'href="/checkin?day={(TODAY - timedelta(days=n)).isoformat()}"' in html
    assert html.count('aria-current="page"') == 1  # today, the default


# --- The phone's queue (static/js/offline.js): the same form, sent by the page's script, asking
# for JSON, with a key the phone made; sent again and again until an answer comes back.

PHONE_KEY = "3f2b8c1e-9a4d-4c6b-8e2f-1a2b3c4d5e6f"
JSON = {"Accept": "application/json"}


def queued(client, **extra):
    return client.post("/checkin", data=answers(**{"submission_key": PHONE_KEY, **extra}), headers=JSON)


def test_a_queued_checkin_sent_twice_is_stored_once(client, alice):
    first, second = queued(client), queued(client)
    assert (first.status_code, first.json["outcome"]) == (200, "created")
    assert (second.status_code, second.json["outcome"]) == (200, "duplicate")
    assert first.json["done"] == second.json["done"] == f"/checkin/{TODAY.isoformat()}/done"
    assert count_checkins() == 1
    assert db.session.scalar(select(func.count()).select_from(CheckInRevision)) == 0
    assert db.session.scalar(select(CheckIn.submission_key)) == PHONE_KEY


def test_a_queued_checkin_sent_again_after_it_was_changed_online_does_not_bring_its_answers_back(client, alice):
    """The phone's answer was lost, the patient changed that day's check-in online, and only then
    the phone sent its queue again: the old answers stay an earlier version, the newer ones stand."""
    assert queued(client).json["outcome"] == "created"
    changed = client.post("/checkin", data=answers(values=(3, 3, 3, 3, 3, 3, 3), submission_key=form_key("online")))
    assert changed.status_code == 303
    again = queued(client)
    assert (again.status_code, again.json["outcome"]) == (200, "duplicate")
    assert db.session.scalar(select(CheckIn.total)) == 21
    assert db.session.scalar(select(func.count()).select_from(CheckInRevision)) == 1  # no revision added
    assert queued(client, q1="0").status_code == 409  # the old key with yet other answers: refused


@pytest.mark.parametrize("change", [
    {"q1": "3"},                                 # other answers
    {"note": "added later"},
    {"local_date": date(2026, 11, 25).isoformat()},  # the same key for another day
])
def test_a_key_reused_for_other_answers_is_refused_and_overwrites_nothing(client, alice, change):
    assert queued(client).status_code == 200
    refused = queued(client, **change)
    assert refused.status_code == 409
    assert "already sent with other answers" in refused.json["refused"]
    stored = db.session.scalars(select(CheckIn)).all()
    assert [(c.local_date, c.q1, c.note) for c in stored] == [(TODAY, 2, None)]


def test_a_reused_key_on_the_plain_form_is_refused_with_a_message(client, alice):
    client.post("/checkin", data=answers(submission_key=PHONE_KEY))
    page = client.post("/checkin", data=answers(values=(3, 3, 3, 3, 3, 3, 3), submission_key=PHONE_KEY))
    assert page.status_code == 409
    text = page.get_data(as_text=True)
    assert "already sent with other answers" in text and PHONE_KEY not in text  # a fresh key to send again
    assert db.session.scalar(select(CheckIn.total)) == 9


@pytest.mark.parametrize("day, words", [
    (date(2026, 11, 22), "Not saved. This check-in was for Sunday 22 November: check-ins can be entered for today "
                         "and the previous 3 days only."),
    (date(2026, 11, 27), "Not saved. This check-in was for Friday 27 November: you cannot check in for a future date."),
])
def test_a_queued_checkin_arriving_too_late_is_refused_with_words_for_the_phone(client, alice, day, words):
    refused = queued(client, local_date=day.isoformat())
    assert (refused.status_code, refused.json) == (422, {"refused": words})
    assert count_checkins() == 0


def test_a_queued_checkin_made_on_the_last_allowed_day_and_sent_a_day_later_is_refused(client, alice):
    made_for = date(2026, 11, 23)  # TODAY - 3: still allowed when the phone queued it
    timeutil.freeze(datetime(2026, 11, 27, 17, 0, tzinfo=timezone.utc))  # the connection returns a day later
    assert queued(client, local_date=made_for.isoformat()).status_code == 302  # signed out when idle: kept
    login(client, alice)
    refused = queued(client, local_date=made_for.isoformat())
    assert refused.status_code == 422 and "Monday 23 November" in refused.json["refused"]
    assert count_checkins() == 0


def test_invalid_answers_from_the_queue_get_json_not_a_page(client, alice):
    refused = queued(client, q3="")
    assert refused.status_code == 400 and refused.json["refused"].startswith("Not saved")
    assert "q3" in refused.json["errors"] and count_checkins() == 0


def test_a_checkin_loaded_before_it_is_replaced_shows_the_new_answers(app, users):
    """A replacement is a plain UPDATE (no search of the session for loaded copies): a copy of
    the check-in loaded earlier in the same transaction is read again, not kept with the old
    answers."""
    patient = users.patient_a
    first = save_checkin(patient, TODAY, answers_for(3), {}, None, now=NOW)
    loaded = db.session.get(CheckIn, first.checkin_id)
    assert loaded.total == 3
    save_checkin(patient, TODAY, answers_for(17), {}, None, now=NOW)
    assert loaded.total == 17
