"""The instruments as data (SPEC 2). Wording is verbatim; do not edit it casually.

The daily check-in is a local instrument: it keeps GAD-7's seven problems but asks about
the past 24 hours with intensity options. It must never carry GAD-7 LOINC codes."""
from dataclasses import dataclass

DAILY_QUESTIONNAIRE_URL = "urn:monitor:questionnaire:daily-anxiety-checkin"
DAILY_STEM = "Over the past 24 hours, how much have you been bothered by the following problems?"

# The seven GAD-7 problems, verbatim (SPEC 2.1), with the daily instrument's local codes.
ITEMS: list[tuple[str, str]] = [
    ("q1", "Feeling nervous, anxious, or on edge"),
    ("q2", "Not being able to stop or control worrying"),
    ("q3", "Worrying too much about different things"),
    ("q4", "Trouble relaxing"),
    ("q5", "Being so restless that it is hard to sit still"),
    ("q6", "Becoming easily annoyed or irritable"),
    ("q7", "Feeling afraid, as if something awful might happen"),
]
ITEM_CODES = [code for code, _ in ITEMS]

DAILY_OPTIONS: list[tuple[int, str]] = [
    (0, "Not at all"),
    (1, "A little"),
    (2, "Quite a bit"),
    (3, "Very much"),
]

# Optional side effects (SPEC 2.1); keys are also the CSV column suffixes (se_<key>).
SIDE_EFFECTS: list[tuple[str, str]] = [
    ("dissociation", "Feeling detached or unreal (dissociation)"),
    ("dizziness", "Dizziness"),
    ("nausea", "Nausea or vomiting"),
    ("headache", "Headache"),
    ("drowsiness", "Drowsiness"),
    ("bladder", "Bladder pain or urinary problems"),
    ("vision", "Blurred vision"),
]
SIDE_EFFECT_KEYS = [key for key, _ in SIDE_EFFECTS]
SIDE_EFFECT_OPTIONS: list[tuple[int, str]] = [
    (0, "None"),
    (1, "Mild"),
    (2, "Moderate"),
    (3, "Severe"),
]
SEVERE_SIDE_EFFECT = 3
NOTE_MAX_LENGTH = 1000

ITEM_MIN, ITEM_MAX = 0, 3
TOTAL_MAX = 21


@dataclass(frozen=True)
class Band:
    key: str
    label: str
    low: int
    high: int


# Shown as a guide only: GAD-7 cut-points, not validated for daily use (SPEC 2.1).
BANDS = [
    Band("minimal", "Minimal", 0, 4),
    Band("mild", "Mild", 5, 9),
    Band("moderate", "Moderate", 10, 14),
    Band("severe", "Severe", 15, 21),
]


def band_for(total: int) -> Band:
    for band in BANDS:
        if band.low <= total <= band.high:
            return band
    raise ValueError(f"total {total} is outside 0-{TOTAL_MAX}")


def total_of(answers: dict[str, int]) -> int:
    """Sum of the seven item answers; every item is required and must be 0-3."""
    missing = [code for code in ITEM_CODES if code not in answers or answers[code] is None]
    if missing:
        raise ValueError("missing answers: " + ", ".join(missing))
    for code in ITEM_CODES:
        value = answers[code]
        if not isinstance(value, int) or isinstance(value, bool) or not ITEM_MIN <= value <= ITEM_MAX:
            raise ValueError(f"{code} must be a whole number from {ITEM_MIN} to {ITEM_MAX}")
    return sum(answers[code] for code in ITEM_CODES)


# Treatment routes (SPEC 3); keys are the import-file vocabulary (SPEC 7).
ROUTES: list[tuple[str, str]] = [
    ("lozenge", "Sublingual lozenge"),
    ("intramuscular", "Intramuscular"),
    ("intravenous", "Intravenous"),
    ("intranasal", "Intranasal"),
    ("subcutaneous", "Subcutaneous"),
    ("oral", "Oral"),
]
ROUTE_LABELS = dict(ROUTES)

DEFAULT_CRISIS_TEXT = (
    "This app is not monitored 24/7. In a crisis call or text 988 (US), or 911 for an emergency."
)
