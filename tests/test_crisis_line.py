"""The crisis line (SPEC 2.3) keeps the clinic's words and makes each phone number in it a
tap-to-call link (monitor/crisis.py); the check-in shows it right above Send."""
import pytest

from monitor.clinic import get_clinic, update_settings
from monitor.crisis import phone_numbers, with_phone_links
from monitor.extensions import db
from monitor.instruments import DEFAULT_CRISIS_TEXT
from tests.factories import login


def dialled(text: str) -> list[str]:
    return [number for _, _, number in phone_numbers(text)]


@pytest.mark.parametrize("text, numbers", [
    (DEFAULT_CRISIS_TEXT, ["988", "911"]),
    ("Samaritans: 116 123, any time. Emergencies: 999 or 112.", ["116123", "999", "112"]),
    ("Call 1-800-273-8255 or (555) 123-4567.", ["18002738255", "5551234567"]),
    ("Abroad: +44 20 7946 0958.", ["+442079460958"]),
    ("Lifeline 13 11 14; NZ 1737.", ["131114", "1737"]),
    # Not numbers to call: hours, counts, times, years.
    ("Not monitored 24/7, open 9-5 since 2020, reply within 48 hours, at 10:30.", []),
])
def test_phone_numbers_are_found_in_the_clinics_own_words(text, numbers):
    assert dialled(text) == numbers


def test_the_wording_is_unchanged_and_everything_else_is_escaped():
    text = 'Call <b>988</b> & "911" now.'
    html = with_phone_links(text)
    assert str(html) == ('Call &lt;b&gt;<a class="tel" href="tel:988">988</a>&lt;/b&gt; &amp; '
                         '&#34;<a class="tel" href="tel:911">911</a>&#34; now.')
    assert with_phone_links(None) == ""


def test_the_checkin_shows_the_crisis_line_above_send_and_in_the_footer(client, users):
    update_settings(get_clinic(), {"crisis_text": "In a crisis call 116 123 (UK)."})
    db.session.commit()  # the admin's settings, as the clinic page would have saved them
    login(client, users.patient_a)
    page = client.get("/checkin").get_data(as_text=True)
    line = 'In a crisis call <a class="tel" href="tel:116123">116 123</a> (UK).'
    form = page[page.index('<form method="post" action="/checkin"'):page.index("</form>", page.index('action="/checkin"'))]
    assert form.index(line) < form.index("Send check-in")
    assert line in page[page.index('<footer class="crisis"'):]
