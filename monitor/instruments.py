"""The instruments as data (SPEC 2). Wording is verbatim; do not edit it casually.

The daily check-in is a local instrument: it keeps GAD-7's seven problems but asks about
the past 24 hours with intensity options. It must never carry GAD-7 LOINC codes."""
from dataclasses import dataclass
from datetime import date

DAILY_QUESTIONNAIRE_URL = "urn:monitor:questionnaire:daily-anxiety-checkin"
DAILY_STEM = "Over the past 24 hours, how much have you been bothered by the following problems?"
# A late entry (one of the 3 days before today) names its day instead (SPEC 2.1):
# "On Sunday 29 November, how much were you bothered by the following problems?"
LATE_STEM = "On {day:%A} {day.day} {day:%B}, how much were you bothered by the following problems?"


def daily_stem(day: date, today: date) -> str:
    """The stem shown above the items of a check-in for `day`, the patient's `today` being today."""
    return DAILY_STEM if day == today else LATE_STEM.format(day=day)

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


# --- The standard GAD-7 (SPEC 2.2): the validated two-week instrument, LOINC-coded. It is kept
# apart from the daily check-ins and never feeds the durability analysis.

GAD7_PANEL_LOINC = "69737-5"
GAD7_TOTAL_LOINC = "70274-6"
GAD7_QUESTIONNAIRE_URL = f"http://loinc.org/q/{GAD7_PANEL_LOINC}"
GAD7_STEM = "Over the last 2 weeks, how often have you been bothered by the following problems?"
GAD7_INTERVAL_DAYS = 14   # asked again once this many days have passed since the last one
GAD7_MCID = 4             # the smallest change in the total that matters (marked on the chart)
GAD7_NOTICE = ("GAD-7 © Pfizer Inc. No permission required to reproduce, translate, display or "
               "distribute.")

# Same seven problems (and local codes q1..q7) as the daily form, with their LOINC item codes.
GAD7_ITEM_LOINC: dict[str, str] = {
    "q1": "69725-0",
    "q2": "68509-9",
    "q3": "69733-4",
    "q4": "69734-2",
    "q5": "69735-9",
    "q6": "69689-8",
    "q7": "69736-7",
}


@dataclass(frozen=True)
class CodedOption:
    value: int
    label: str
    loinc: str   # the LOINC answer code (LA...)


GAD7_OPTIONS: list[CodedOption] = [
    CodedOption(0, "Not at all", "LA6568-5"),
    CodedOption(1, "Several days", "LA6569-3"),
    CodedOption(2, "More than half the days", "LA6570-1"),
    CodedOption(3, "Nearly every day", "LA6571-9"),
]
GAD7_DIFFICULTY_LOINC = "69722-7"  # the difficulty item, shared by LOINC's GAD-7 and PHQ-9 panels
GAD7_DIFFICULTY_QUESTION = (
    "If you checked off any problems, how difficult have these made it for you to do your work, "
    "take care of things at home, or get along with other people?")
# Not added to the total. Note the LOINC codes are not in order: 75-0 is Very, 74-3 Extremely.
GAD7_DIFFICULTY_OPTIONS: list[CodedOption] = [
    CodedOption(0, "Not difficult at all", "LA6572-7"),
    CodedOption(1, "Somewhat difficult", "LA6573-5"),
    CodedOption(2, "Very difficult", "LA6575-0"),
    CodedOption(3, "Extremely difficult", "LA6574-3"),
]
# Read on import only: an older answer list's "More days than not" means 2 (SPEC 2.2).
GAD7_IMPORT_ALIASES = {"LA18938-3": 2}
GAD7_ANSWER_BY_LOINC = {option.loinc: option.value for option in GAD7_OPTIONS} | GAD7_IMPORT_ALIASES
GAD7_DIFFICULTY_BY_LOINC = {option.loinc: option.value for option in GAD7_DIFFICULTY_OPTIONS}


def gad7_severity(total: int) -> Band:
    """The standard GAD-7's severity band (Spitzer et al. 2006): the same cut-points as BANDS,
    validated here, where for the daily form they are only a guide."""
    return band_for(total)
