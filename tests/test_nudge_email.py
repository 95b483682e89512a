"""What a nudge email says, and what it must never say (SPEC 5): received by a real SMTP
server on loopback, then checked word by word, in the spirit of Healthchecks.io's helpers
that assert what an email does not contain."""
import hashlib
import hmac
import re
from datetime import date, datetime, timedelta, timezone
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from monitor import nudges
from monitor.clinic import get_clinic
from monitor.extensions import db
from tests.factories import add_checkin, add_patient, add_provider, add_treatment, derived_key
from tests.test_nudges import EVENING

# Words that would tell a reader of the inbox (a partner, an employer's mail server, a shared
# screen) what the patient is treated for, with what, or how they are doing.
FORBIDDEN = ["score", "total", "anxiety", "anxious", "gad", "ketamine", "lozenge", "intramuscular",
             "treatment", "session", "symptom", "depress", "mental", "severe", "moderate", "mild",
             "minimal", "dose", "mg", "booster", "infusion"]
CLINIC_NAME = "Riverside Wellness Partners"


class _Visible(HTMLParser):
    """The text a reader sees, and the links."""

    def __init__(self):
        super().__init__()
        self.text, self.links = [], []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self.links.append(dict(attrs)["href"])

    def handle_data(self, data):
        self.text.append(data)


def html_parts(html: str) -> tuple[str, list[str]]:
    parser = _Visible()
    parser.feed(html)
    return " ".join(parser.text), parser.links


URL = re.compile(r"https?://\S+")


def assert_no_phi(msg, *, patient, staff=(), clinic_name=CLINIC_NAME):
    """Every part a person can read holds no health information and no one else's name."""
    subject = msg["Subject"]
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    html_text, html_links = html_parts(html)
    text_links = URL.findall(text)
    for where, words in (("subject", subject), ("text", URL.sub(" ", text)), ("html", html_text)):
        lowered = words.lower()
        for word in FORBIDDEN:
            assert not re.search(rf"\b{word}", lowered), f"'{word}' in the {where}"
        assert not re.search(r"\d", words), f"a number in the {where}: {words!r}"
        assert clinic_name.lower() not in lowered, f"the clinic's name in the {where}"
        for person in staff:
            for name in (person.first_name, person.last_name):
                assert name.lower() not in lowered, f"a provider's name in the {where}"
        if patient.last_name:
            assert patient.last_name.lower() not in lowered, f"the patient's last name in the {where}"
        assert patient.email.lower() not in lowered, f"the patient's address in the {where}"
    for link in text_links + html_links:
        assert patient.email.lower() not in link.lower() and "%40" not in link
    # The check-in link: the page itself, no token, no query.
    checkin_links = [link for link in text_links + html_links if urlsplit(link).path == "/checkin"]
    assert len(checkin_links) == 2
    for link in checkin_links:
        parts = urlsplit(link)
        assert (parts.query, parts.fragment) == ("", "")
        assert link == "http://localhost/checkin"
    return text, html, text_links, html_links


@pytest.fixture
def clinic_setting(app):
    """A clinic whose name, staff and records could leak into an email if the template let them."""
    clinic = get_clinic()
    clinic.name = CLINIC_NAME
    clinic.phone = "+1 555 0100"
    provider = add_provider("dr@clinic.test", first_name="Henrietta", last_name="Quill")
    alice = add_patient("alice.archer@example.test", first_name="Alice", last_name="Archer", providers=[provider])
    # A severe check-in yesterday and a treatment session last week: none of it may show.
    add_checkin(alice, date(2026, 11, 25), 21, side_effects={"nausea": 3}, note="awful day")
    add_treatment(alice, datetime(2026, 11, 20, 15, tzinfo=timezone.utc), route="lozenge", dose="200",
                  recorded_by=provider)
    db.session.commit()
    return alice, provider


def test_the_nudge_holds_no_health_information(app, smtp, clinic_setting):
    alice, provider = clinic_setting
    nudges.run(EVENING)
    [msg] = smtp.messages
    assert msg["Subject"] == "Your daily check-in"
    text, html, _, _ = assert_no_phi(msg, patient=alice, staff=[provider])
    assert text.startswith("Hello Alice,")
    assert "<p>Hello Alice,</p>" in html


def test_the_nudge_has_plain_text_and_html_parts(app, smtp, clinic_setting):
    nudges.run(EVENING)
    [msg] = smtp.messages
    assert msg.is_multipart()
    assert msg.get_body(preferencelist=("plain",)).get_content_type() == "text/plain"
    assert msg.get_body(preferencelist=("html",)).get_content_type() == "text/html"


def test_the_nudge_carries_one_click_unsubscribe_headers_and_links(app, smtp, clinic_setting):
    alice, _ = clinic_setting
    nudges.run(EVENING)
    [msg] = smtp.messages
    header = str(msg["List-Unsubscribe"]).strip()  # long URLs are folded onto the next line
    assert header.startswith("<http://localhost/unsubscribe/") and header.endswith(">")
    assert msg["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = header[1:-1]
    text, html, text_links, html_links = assert_no_phi(msg, patient=alice)
    assert url in text_links and url in html_links


def test_the_greeting_is_plain_hello_without_a_first_name(app, smtp):
    nameless = add_patient("x@example.test", first_name="", last_name="")
    nudges.run(EVENING)
    [msg] = smtp.messages
    text, _, _, _ = assert_no_phi(msg, patient=nameless)
    assert text.startswith("Hello,")


def test_a_first_name_is_escaped_in_the_html(app, smtp):
    add_patient("x@example.test", first_name="<b>Al</b>", last_name="")
    nudges.run(EVENING)
    [msg] = smtp.messages
    html = msg.get_body(preferencelist=("html",)).get_content()
    assert "&lt;b&gt;Al&lt;/b&gt;" in html and "<b>Al</b>" not in html


MESSAGE_ID = re.compile(r"<nudge-([0-9a-f]{32})@localhost>")


def message_id_candidates(secret: str, ids, on: str) -> dict[str, int]:
    """The Message-ID each of these patient ids would get on this date under a key derived from
    `secret`: what someone holding that secret could try."""
    key = derived_key(secret, "message-id")
    return {hmac.new(key, f"nudge:{i}:{on}".encode(), hashlib.sha256).hexdigest()[:32]: i for i in ids}


def test_each_patient_and_date_has_one_stable_message_id(app, smtp):
    alice = add_patient("alice@example.test")
    bob = add_patient("bob@example.test")
    nudges.run(EVENING)
    nudges.run(EVENING + timedelta(days=1))
    sent = {(str(m["To"]), n // 2): m["Message-ID"] for n, m in enumerate(smtp.messages)}
    assert len(sent) == 4 and len(set(sent.values())) == 4
    assert all(MESSAGE_ID.fullmatch(i) for i in sent.values())
    # The same recipient and date give the same id again: a copy sent twice would collapse.
    assert nudges._message_id("nudge", alice.id, date(2026, 11, 26)) == sent[("alice@example.test", 0)]
    assert nudges._message_id("nudge", bob.id, date(2026, 11, 27)) == sent[("bob@example.test", 1)]


def test_the_message_id_names_nobody_without_the_key(app, smtp):
    alice = add_patient("alice@example.test")
    nudges.run(EVENING)
    [msg] = smtp.messages
    local = MESSAGE_ID.fullmatch(msg["Message-ID"]).group(1)
    assert "20261126" not in local
    ids = range(1, 10_001)
    # Every id tried, unkeyed or under another key: none gives this Message-ID...
    assert local not in message_id_candidates("another-secret", ids, "20261126")
    assert local not in {hashlib.sha256(f"nudge:{i}:20261126".encode()).hexdigest()[:32] for i in ids}
    # ...while with the app's SECRET_KEY it is alice's, and only hers.
    assert message_id_candidates(app.config["SECRET_KEY"], ids, "20261126").get(local) == alice.id


def test_the_nudge_says_nothing_that_changes_with_the_patients_results(app, smtp):
    # Two patients, one doing badly and one well: their emails differ only in the name and links.
    worse = add_patient("w@example.test", first_name="Sam", last_name="")
    better = add_patient("b@example.test", first_name="Sam", last_name="")
    add_checkin(worse, date(2026, 11, 25), 21)
    add_checkin(better, date(2026, 11, 25), 0)
    nudges.run(EVENING)
    bodies = [URL.sub("LINK", m.get_body(preferencelist=("plain",)).get_content()) for m in smtp.messages]
    assert len(bodies) == 2 and bodies[0] == bodies[1]


def test_the_digest_holds_only_a_count_and_a_link(app, smtp):
    provider = add_provider("dr@clinic.test", first_name="Henrietta", last_name="Quill")
    lapsed = add_patient("lena@example.test", first_name="Lena", last_name="Lindqvist", providers=[provider])
    add_checkin(lapsed, date(2026, 11, 26), 21)
    get_clinic().name = CLINIC_NAME
    db.session.commit()
    nudges.run(datetime.fromisoformat("2026-11-30T08:00:00-05:00"))  # 27th, 28th, 29th missed
    [msg] = smtp.messages
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html_text, links = html_parts(msg.get_body(preferencelist=("html",)).get_content())
    assert links == ["http://localhost/patients?flag=lapsed"]
    for part in (msg["Subject"], text, html_text):
        lowered = part.lower()
        for word in ("lena", "lindqvist", "henrietta", "quill", "ketamine", "anxiety", "score", "total", "session", "treatment"):
            assert word not in lowered
        assert CLINIC_NAME.lower() not in lowered
    assert "1 patient has missed" in text
