"""One patient's record as a FHIR R4 Bundle (SPEC 7; issue 12): data in, a JSON-ready dict out.
No Flask and no queries here: monitor/patient_record.py loads the rows and calls build_bundle.

What is in it, and why it is coded so:
- the Patient;
- the two Questionnaires: the daily check-in, a local instrument with this install's own
  canonical URL and its own item codes (it must never carry the GAD-7 LOINC codes, SPEC 2.1),
  and the standard GAD-7 under LOINC's canonical http://loinc.org/q/69737-5 (SPEC 2.2);
- a QuestionnaireResponse per daily check-in (answers as integers 0-3, side effects, the
  note) and an Observation of its total with the local code only;
- a QuestionnaireResponse per standard GAD-7 (linkIds the LOINC item codes, answers LOINC
  answer codes) and an Observation of its total, LOINC 70274-6, derived from it;
- a MedicationAdministration per treatment session given: ketamine (RxNorm 6130), route in
  SNOMED CT, dose in UCUM mg, at the clinic's wall-clock time with its offset. A planned
  session has not happened: a MedicationAdministration records a giving, and `not-done`
  would say a dose was withheld, so planned sessions are left out.

Each entry's fullUrl is a urn:uuid made with uuid5 from the install (its BASE_URL) and the
row (its table and id): exporting again gives the same identifiers, an EHR that imported an
earlier export can match them, and none of them carries a name or an email. References
between entries use these fullUrls, so every one resolves inside the Bundle."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from .instruments import (
    DAILY_OPTIONS,
    DAILY_QUESTIONNAIRE_URL,
    DAILY_STEM,
    GAD7_DIFFICULTY_LOINC,
    GAD7_DIFFICULTY_OPTIONS,
    GAD7_DIFFICULTY_QUESTION,
    GAD7_ITEM_LOINC,
    GAD7_NOTICE,
    GAD7_OPTIONS,
    GAD7_PANEL_LOINC,
    GAD7_QUESTIONNAIRE_URL,
    GAD7_STEM,
    GAD7_TOTAL_LOINC,
    ITEMS,
    NOTE_MAX_LENGTH,
    ROUTE_LABELS,
    SIDE_EFFECT_OPTIONS,
    SIDE_EFFECTS,
)
from .models import CheckIn, StandardGad7, Treatment, User
from .timeutil import to_local

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
SNOMED = "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
ADMINISTRATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/medication-admin-category"

KETAMINE_RXNORM = "6130"
GAD7_TOTAL_DISPLAY = "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]"
GAD7_PANEL_DISPLAY = "Generalized anxiety disorder 7 item (GAD-7)"

# The treatment routes (SPEC 3) in SNOMED CT: concept id and preferred term.
ROUTE_SNOMED: dict[str, tuple[str, str]] = {
    "lozenge": ("37839007", "Sublingual route"),
    "intramuscular": ("78421000", "Intramuscular route"),
    "intravenous": ("47625008", "Intravenous route"),
    "intranasal": ("46713006", "Nasal route"),
    "subcutaneous": ("34206005", "Subcutaneous route"),
    "oral": ("26643006", "Oral route"),
}
assert ROUTE_SNOMED.keys() == ROUTE_LABELS.keys()

# The daily instrument under this install's address: a canonical URL must be an address its
# publisher controls, and the clinic's install is the publisher of its copy. The product-wide
# urn (instruments.DAILY_QUESTIONNAIRE_URL) goes with it as the Questionnaire's identifier, so
# that data pooled from several clinics can still be matched as the same instrument.
DAILY_PATH = "/fhir/Questionnaire/daily-anxiety-checkin"
DAILY_CODES_PATH = "/fhir/CodeSystem/daily-anxiety-checkin"
ANSWER_LABEL_PATH = "/fhir/StructureDefinition/answer-label"
PATIENT_ID_PATH = "/fhir/sid/patient"
DAILY_VERSION = "1"
DAILY_TOTAL_CODE = "total"
DAILY_TOTAL_DISPLAY = "Daily anxiety check-in total score (0-21, past 24 hours)"
NOTE_LINK_ID = "note"


def _root(base_url: str) -> str:
    if not base_url or not base_url.startswith(("https://", "http://")):
        raise ValueError("the install's BASE_URL (an http(s) address) is needed for the FHIR export")
    return base_url.rstrip("/")


def daily_questionnaire_url(base_url: str) -> str:
    """The daily Questionnaire's canonical URL for this install."""
    return _root(base_url) + DAILY_PATH


def daily_code_system(base_url: str) -> str:
    """The system of the daily instrument's own codes (q1..q7, se_*, note, total)."""
    return _root(base_url) + DAILY_CODES_PATH


class Ids:
    """Deterministic urn:uuid fullUrls: uuid5 of the install's namespace and the row."""

    def __init__(self, base_url: str):
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, _root(base_url) + "/fhir")

    def uuid(self, kind: str, key: object) -> str:
        return str(uuid.uuid5(self.namespace, f"{kind}/{key}"))

    def full_url(self, kind: str, key: object) -> str:
        return "urn:uuid:" + self.uuid(kind, key)


def _entry(ids: Ids, kind: str, key: object, resource: dict) -> dict:
    # The resource's id is the uuid of its fullUrl, as is usual for urn:uuid entries.
    return {"fullUrl": ids.full_url(kind, key), "resource": {"resourceType": resource.pop("resourceType"),
                                                             "id": ids.uuid(kind, key), **resource}}


def _ref(full_url: str) -> dict:
    return {"reference": full_url}


def _number(value: Decimal | int) -> int | float:
    """A JSON number: 25.00 -> 25, 37.50 -> 37.5."""
    value = Decimal(value)
    return int(value) if value == value.to_integral_value() else float(value)


def _score(total: int) -> dict:
    return {"value": total, "unit": "{score}", "system": UCUM, "code": "{score}"}


def _survey() -> list[dict]:
    return [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]}]


# --- The Patient.

def patient_resource(patient: User, base_url: str) -> dict:
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": _root(base_url) + PATIENT_ID_PATH, "value": str(patient.id)}],
        "active": bool(patient.active),
    }
    if patient.first_name or patient.last_name:
        name = {"use": "official", "text": f"{patient.first_name} {patient.last_name}".strip()}
        if patient.last_name:
            name["family"] = patient.last_name
        if patient.first_name:
            name["given"] = [patient.first_name]
        resource["name"] = [name]
    resource["telecom"] = [{"system": "email", "value": patient.email}]
    return resource


# --- The two Questionnaires.

def _integer_options(base_url: str, options: list[tuple[int, str]]) -> list[dict]:
    # Integer answers carry no display of their own: the label rides on a local extension.
    url = _root(base_url) + ANSWER_LABEL_PATH
    return [{"valueInteger": value, "extension": [{"url": url, "valueString": label}]}
            for value, label in options]


def daily_questionnaire(base_url: str) -> dict:
    system = daily_code_system(base_url)
    items = [{"linkId": "stem", "type": "display", "text": DAILY_STEM}]
    for code, text in ITEMS:
        items.append({"linkId": code, "code": [{"system": system, "code": code, "display": text}],
                      "text": text, "type": "integer", "required": True,
                      "answerOption": _integer_options(base_url, DAILY_OPTIONS)})
    for key, text in SIDE_EFFECTS:
        items.append({"linkId": f"se_{key}", "code": [{"system": system, "code": f"se_{key}", "display": text}],
                      "text": text, "type": "integer", "required": False,
                      "answerOption": _integer_options(base_url, SIDE_EFFECT_OPTIONS)})
    items.append({"linkId": NOTE_LINK_ID, "code": [{"system": system, "code": NOTE_LINK_ID, "display": "Note"}],
                  "text": "Note", "type": "text", "required": False, "maxLength": NOTE_MAX_LENGTH})
    return {
        "resourceType": "Questionnaire",
        "url": daily_questionnaire_url(base_url),
        "identifier": [{"system": "urn:ietf:rfc:3986", "value": DAILY_QUESTIONNAIRE_URL}],
        "version": DAILY_VERSION,
        "name": "DailyAnxietyCheckin",
        "title": "Daily anxiety check-in (past 24 hours)",
        "status": "active",
        "subjectType": ["Patient"],
        "description": ("A local daily instrument: the seven GAD-7 problems asked about the past 24 hours "
                        "with intensity options, and optional side effects. Not the GAD-7; its totals are "
                        "not GAD-7 scores."),
        "item": items,
    }


def daily_codes(base_url: str) -> dict:
    """The CodeSystem of the daily instrument's own codes, served at its URL so that a system
    meeting one of them can look it up (monitor/interop)."""
    concepts = [{"code": code, "display": text} for code, text in ITEMS]
    concepts += [{"code": f"se_{key}", "display": text} for key, text in SIDE_EFFECTS]
    concepts += [{"code": NOTE_LINK_ID, "display": "Note"},
                 {"code": "total", "display": "Daily check-in total (0-21; not a GAD-7 score)"}]
    return {"resourceType": "CodeSystem", "url": daily_code_system(base_url), "version": DAILY_VERSION,
            "name": "DailyAnxietyCheckinCodes", "title": "Daily anxiety check-in codes", "status": "active",
            "content": "complete", "caseSensitive": True, "count": len(concepts), "concept": concepts}


def _loinc(code: str, display: str) -> dict:
    return {"system": LOINC, "code": code, "display": display}


def standard_questionnaire() -> dict:
    items = [{"linkId": "stem", "type": "display", "text": GAD7_STEM}]
    for code, text in ITEMS:
        loinc = GAD7_ITEM_LOINC[code]
        items.append({"linkId": loinc, "code": [_loinc(loinc, text)], "text": text, "type": "choice",
                      "required": True,
                      "answerOption": [{"valueCoding": _loinc(o.loinc, o.label)} for o in GAD7_OPTIONS]})
    items.append({"linkId": GAD7_DIFFICULTY_LOINC, "code": [_loinc(GAD7_DIFFICULTY_LOINC, GAD7_DIFFICULTY_QUESTION)],
                  "text": GAD7_DIFFICULTY_QUESTION, "type": "choice", "required": False,
                  "answerOption": [{"valueCoding": _loinc(o.loinc, o.label)} for o in GAD7_DIFFICULTY_OPTIONS]})
    return {
        "resourceType": "Questionnaire",
        "url": GAD7_QUESTIONNAIRE_URL,
        "name": "GAD7",
        "title": GAD7_PANEL_DISPLAY,
        "status": "active",
        "subjectType": ["Patient"],
        "code": [_loinc(GAD7_PANEL_LOINC, GAD7_PANEL_DISPLAY)],
        "copyright": GAD7_NOTICE,
        "item": items,
    }


# --- Daily check-ins.

def _daily_response(checkin: CheckIn, patient_url: str, base_url: str) -> dict:
    items = [{"linkId": code, "text": text, "answer": [{"valueInteger": int(getattr(checkin, code))}]}
             for code, text in ITEMS]
    for key, text in SIDE_EFFECTS:
        value = getattr(checkin, f"se_{key}")
        if value is not None:
            items.append({"linkId": f"se_{key}", "text": text, "answer": [{"valueInteger": int(value)}]})
    if checkin.note:
        items.append({"linkId": NOTE_LINK_ID, "text": "Note", "answer": [{"valueString": checkin.note}]})
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": daily_questionnaire_url(base_url),
        "status": "completed",
        "subject": _ref(patient_url),
        # The patient's local date the answers are about (a late entry was typed days later).
        "authored": checkin.local_date.isoformat(),
        "author": _ref(patient_url),
        "source": _ref(patient_url),
        "item": items,
    }


def _daily_total(checkin: CheckIn, patient_url: str, response_url: str, base_url: str) -> dict:
    code = {"system": daily_code_system(base_url), "code": DAILY_TOTAL_CODE, "display": DAILY_TOTAL_DISPLAY}
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": _survey(),
        "code": {"coding": [code], "text": DAILY_TOTAL_DISPLAY},  # a local code only: never 70274-6
        "subject": _ref(patient_url),
        "effectiveDateTime": checkin.local_date.isoformat(),
        "valueQuantity": _score(int(checkin.total)),
        "derivedFrom": [_ref(response_url)],
    }


# --- Standard GAD-7s.

_ANSWER = {o.value: o for o in GAD7_OPTIONS}
_DIFFICULTY = {o.value: o for o in GAD7_DIFFICULTY_OPTIONS}


def _standard_response(row: StandardGad7, patient_url: str) -> dict:
    items = []
    for code, text in ITEMS:
        option = _ANSWER[int(getattr(row, code))]
        items.append({"linkId": GAD7_ITEM_LOINC[code], "text": text,
                      "answer": [{"valueCoding": _loinc(option.loinc, option.label)}]})
    if row.difficulty is not None:
        option = _DIFFICULTY[int(row.difficulty)]
        items.append({"linkId": GAD7_DIFFICULTY_LOINC, "text": GAD7_DIFFICULTY_QUESTION,
                      "answer": [{"valueCoding": _loinc(option.loinc, option.label)}]})
    return {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": GAD7_QUESTIONNAIRE_URL,
        "status": "completed",
        "subject": _ref(patient_url),
        "authored": row.local_date.isoformat(),
        "author": _ref(patient_url),
        "source": _ref(patient_url),
        "item": items,
    }


def _standard_total(row: StandardGad7, patient_url: str, response_url: str) -> dict:
    return {
        "resourceType": "Observation",
        "status": "final",
        "category": _survey(),
        "code": {"coding": [_loinc(GAD7_TOTAL_LOINC, GAD7_TOTAL_DISPLAY)], "text": "GAD-7 total score"},
        "subject": _ref(patient_url),
        "effectiveDateTime": row.local_date.isoformat(),
        "valueQuantity": _score(int(row.total)),
        "derivedFrom": [_ref(response_url)],
    }


# --- Treatment sessions.

def _administration(treatment: Treatment, patient_url: str, clinic_timezone: str) -> dict:
    route_code, route_display = ROUTE_SNOMED[treatment.route]
    given_at = to_local(treatment.administered_at, clinic_timezone).replace(microsecond=0)
    return {
        "resourceType": "MedicationAdministration",
        "status": "completed",
        "category": {"coding": [{"system": ADMINISTRATION_CATEGORY, "code": "outpatient",
                                 "display": "Outpatient"}]},
        "medicationCodeableConcept": {"coding": [{"system": RXNORM, "code": KETAMINE_RXNORM, "display": "ketamine"}],
                                      "text": "ketamine"},
        "subject": _ref(patient_url),
        "effectiveDateTime": given_at.isoformat(),
        "dosage": {
            "route": {"coding": [{"system": SNOMED, "code": route_code, "display": route_display}],
                      "text": ROUTE_LABELS[treatment.route]},
            "dose": {"value": _number(treatment.dose_mg), "unit": "mg", "system": UCUM, "code": "mg"},
        },
    }


# --- The Bundle.

def build_bundle(patient: User, *, checkins: Iterable[CheckIn], standard_gad7s: Iterable[StandardGad7],
                 treatments: Iterable[Treatment], base_url: str, clinic_timezone: str,
                 now: datetime) -> dict:
    """The patient's Bundle (type collection). Sessions after `now` are planned: left out."""
    ids = Ids(base_url)
    patient_url = ids.full_url("Patient", patient.id)
    entries = [
        _entry(ids, "Patient", patient.id, patient_resource(patient, base_url)),
        _entry(ids, "Questionnaire", "daily", daily_questionnaire(base_url)),
        _entry(ids, "Questionnaire", "gad7", standard_questionnaire()),
    ]
    for checkin in sorted(checkins, key=lambda c: c.local_date):
        response_url = ids.full_url("QuestionnaireResponse/checkin", checkin.id)
        entries.append(_entry(ids, "QuestionnaireResponse/checkin", checkin.id,
                              _daily_response(checkin, patient_url, base_url)))
        entries.append(_entry(ids, "Observation/checkin-total", checkin.id,
                              _daily_total(checkin, patient_url, response_url, base_url)))
    for row in sorted(standard_gad7s, key=lambda r: r.local_date):
        response_url = ids.full_url("QuestionnaireResponse/gad7", row.id)
        entries.append(_entry(ids, "QuestionnaireResponse/gad7", row.id, _standard_response(row, patient_url)))
        entries.append(_entry(ids, "Observation/gad7-total", row.id, _standard_total(row, patient_url, response_url)))
    for treatment in sorted(treatments, key=lambda t: (t.administered_at, t.id)):
        if treatment.administered_at > now:
            continue  # planned: not given yet (see the module's docstring)
        entries.append(_entry(ids, "MedicationAdministration", treatment.id,
                              _administration(treatment, patient_url, clinic_timezone)))
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now.replace(microsecond=0).isoformat(),
        "entry": entries,
    }
