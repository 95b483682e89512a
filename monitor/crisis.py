"""The crisis line (SPEC 2.3) with its phone numbers as tap-to-call links. The wording is the
clinic's own (Clinic.crisis_text, DEFAULT_CRISIS_TEXT): it is shown exactly as written, and
each phone number in it ("988", "911", "1-800-273-8255", "+44 116 123") becomes a tel: link,
so that someone in distress on a phone calls with one tap instead of copying digits."""
import re

from markupsafe import Markup, escape

# A run of digits with the separators people write in phone numbers, starting and ending on a
# digit (or an opening bracket), not glued to a word or a slash: "24/7" is not a number.
_CANDIDATE = re.compile(r"(?<![\w/+(])(?:\+|\()?\d(?:[\d().\- ]*\d)?(?![\w/])")
MIN_DIGITS = 3  # 988, 911, 999, 112; fewer is a count or an hour ("24/7", "9-5")
MAX_DIGITS = 15  # E.164's longest number
_YEAR = re.compile(r"(19|20)\d\d")  # "since 2020": a year, not a number to call


def phone_numbers(text: str) -> list[tuple[int, int, str]]:
    """(start, end, dialled) for each phone number in text; dialled is what tel: needs: the
    digits, with a leading + when the number was written with one."""
    found = []
    for match in _CANDIDATE.finditer(text):
        written = match.group()
        digits = re.sub(r"\D", "", written)
        if MIN_DIGITS <= len(digits) <= MAX_DIGITS and not _YEAR.fullmatch(written):
            found.append((match.start(), match.end(), ("+" if written.startswith("+") else "") + digits))
    return found


def with_phone_links(text: str | None) -> Markup:
    """The text, escaped, with every phone number in it a tel: link (class "tel", a full-size
    tap target in app.css) whose words are the number as written."""
    text = text or ""
    out, at = [], 0
    for start, end, dialled in phone_numbers(text):
        out.append(escape(text[at:start]))
        out.append(Markup('<a class="tel" href="tel:{}">{}</a>').format(dialled, text[start:end]))
        at = end
    out.append(escape(text[at:]))
    return Markup("").join(out)
