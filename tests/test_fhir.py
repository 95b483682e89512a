"""The FHIR R4 export (SPEC 7, issue 12 point 3): `flask export-fhir EMAIL` prints one Bundle per
patient, parsed here with the fhir.resources R4B models, and every code in it checked one by
one against SPEC 2.2 (the LOINC codes are typed out here from the SPEC, not read from
monitor.instruments, so a wrong constant there fails a test)."""
import json
import re

import pytest
from fhir.resources.R4B.bundle import Bundle

from monitor.extensions import db
from tests.factories import (
    NEW_YORK, add_checkin, add_standard_gad7, add_treatment, at_local, day, events,
)

# SPEC 2.2, verbatim.
ITEM_LOINC = {"q1": "69725-0", "q2": "68509-9", "q3": "69733-4", "q4": "69734-2", "q5": "69735-9",
              "q6": "69689-8", "q7": "69736-7"}
ANSWER_LOINC = {0: ("LA6568-5", "Not at all"), 1: ("LA6569-3", "Several days"),
                2: ("LA6570-1", "More than half the days"), 3: ("LA6571-9", "Nearly every day")}
DIFFICULTY_LOINC = {0: ("LA6572-7", "Not difficult at all"), 1: ("LA6573-5", "Somewhat difficult"),
                    2: ("LA6575-0", "Very difficult"), 3: ("LA6574-3", "Extremely difficult")}
DIFFICULTY_ITEM = "69722-7"
# Issue 12 point 3: the routes in SNOMED CT.
ROUTE_SNOMED = {"lozenge": "37839007", "intramuscular": "78421000", "intravenous": "47625008",
                "intranasal": "46713006", "subcutaneous": "34206005", "oral": "26643006"}
LOINC, UCUM, SNOMED = "http://loinc.org", "http://unitsofmeasure.org", "http://snomed.info/sct"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
DAILY_URL = "http://localhost/fhir/Questionnaire/daily-anxiety-checkin"  # the tests' BASE_URL is http://localhost
DAILY_CODES = "http://localhost/fhir/CodeSystem/daily-anxiety-checkin"
SIDE_EFFECTS = {"dissociation": 1, "nausea": 3}

# Four standard GAD-7s: every answer value on some item, every difficulty, and one without it.
STANDARD = [
    (day(-40), {"q1": 0, "q2": 1, "q3": 2, "q4": 3, "q5": 0, "q6": 1, "q7": 2}, 0),
    (day(-26), {"q1": 3, "q2": 2, "q3": 1, "q4": 0, "q5": 3, "q6": 2, "q7": 1}, 1),
    (day(-12), {"q1": 1, "q2": 1, "q3": 1, "q4": 1, "q5": 1, "q6": 1, "q7": 1}, 2),
    (day(-2), {"q1": 2, "q2": 2, "q3": 2, "q4": 2, "q5": 2, "q6": 2, "q7": 2}, 3),
    (day(-1), {"q1": 0, "q2": 0, "q3": 0, "q4": 0, "q5": 0, "q6": 0, "q7": 1}, None),
]


@pytest.fixture
def record(users):
    """Patient B (Europe/London; the clinic is in New York): two check-ins, five standard GAD-7s,
    one session given by each route, and one planned."""
    patient = users.patient_b
    checkins = [
        add_checkin(patient, day(-3), answers={"q1": 3, "q2": 2, "q3": 1, "q4": 0, "q5": 1, "q6": 2, "q7": 3},
                    side_effects=SIDE_EFFECTS, note="Slept badly"),
        add_checkin(patient, day(-2), 4),
    ]
    standard = [add_standard_gad7(patient, on, answers=answers, difficulty=difficulty)
                for on, answers, difficulty in STANDARD]
    given = [add_treatment(patient, at_local(day(-30 + n), 9, 30, zone=NEW_YORK), route=route, dose=dose)
             for n, (route, dose) in enumerate(zip(ROUTE_SNOMED, ["50", "37.5", "35", "56", "25", "100"]))]
    planned = add_treatment(patient, at_local(day(5), zone=NEW_YORK), route="intramuscular")
    return dict(patient=patient, checkins=checkins, standard=standard, given=given, planned=planned)


def export(runner, email):
    result = runner.invoke(args=["export-fhir", email])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def resources(bundle: dict, kind: str) -> list[dict]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def by_full_url(bundle: dict) -> dict[str, dict]:
    return {e["fullUrl"]: e["resource"] for e in bundle["entry"]}


def references(value) -> list[str]:
    """Every Reference.reference anywhere in a resource."""
    if isinstance(value, dict):
        found = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return found + [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


def coding(concept: dict) -> tuple[str, str]:
    (only,) = concept["coding"]
    return only["system"], only["code"]


# --- The Bundle as a whole.

def test_the_bundle_parses_with_the_r4b_models_as_a_collection(runner, record):
    data = export(runner, record["patient"].email)
    bundle = Bundle.model_validate(data)
    assert bundle.type == "collection"
    kinds = [e.resource.get_resource_type() for e in bundle.entry]
    assert kinds.count("Patient") == 1
    assert kinds.count("Questionnaire") == 2
    assert kinds.count("QuestionnaireResponse") == 2 + 5
    assert kinds.count("Observation") == 2 + 5
    assert kinds.count("MedicationAdministration") == 6


def test_every_entry_has_a_unique_urn_uuid_full_url_without_name_or_email(runner, record):
    data = export(runner, record["patient"].email)
    urls = [e["fullUrl"] for e in data["entry"]]
    assert all(re.fullmatch(r"urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}", u) for u in urls)
    assert len(set(urls)) == len(urls)
    for entry in data["entry"]:
        assert entry["resource"]["id"] == entry["fullUrl"].removeprefix("urn:uuid:")


def test_full_urls_are_the_same_in_a_second_export(runner, record):
    first = [e["fullUrl"] for e in export(runner, record["patient"].email)["entry"]]
    second = [e["fullUrl"] for e in export(runner, record["patient"].email)["entry"]]
    assert first == second


def test_full_urls_differ_between_patients_and_installs(app, runner, record, users):
    add_checkin(users.patient_a, day(-1), 5)
    mine = by_full_url(export(runner, record["patient"].email))
    theirs = by_full_url(export(runner, users.patient_a.email))
    # Only the two Questionnaires are the same entries in every patient's Bundle.
    assert sorted(mine[url]["resourceType"] for url in mine.keys() & theirs.keys()) == ["Questionnaire"] * 2
    app.config["BASE_URL"] = "https://monitor.other-clinic.example"
    elsewhere = by_full_url(export(runner, record["patient"].email))
    assert mine.keys() & elsewhere.keys() == set()


def test_every_reference_resolves_to_an_entry_of_the_bundle(runner, record):
    data = export(runner, record["patient"].email)
    urls = by_full_url(data)
    found = references(data["entry"])
    assert found  # subjects, authors, derivedFrom
    assert [r for r in found if r not in urls] == []


def test_every_subject_is_the_patient(runner, record):
    data = export(runner, record["patient"].email)
    (patient,) = resources(data, "Patient")
    patient_url = next(e["fullUrl"] for e in data["entry"] if e["resource"] is patient)
    for entry in data["entry"]:
        if entry["resource"]["resourceType"] in ("QuestionnaireResponse", "Observation", "MedicationAdministration"):
            assert entry["resource"]["subject"] == {"reference": patient_url}


def test_the_patient_resource(runner, record):
    (patient,) = resources(export(runner, record["patient"].email), "Patient")
    assert patient["name"][0]["family"] == "Baker" and patient["name"][0]["given"] == ["Bob"]
    assert patient["telecom"] == [{"system": "email", "value": "bob@example.test"}]
    assert patient["identifier"] == [{"system": "http://localhost/fhir/sid/patient", "value": str(record["patient"].id)}]


# --- Daily check-ins: local codes only.

def daily_responses(data):
    return [r for r in resources(data, "QuestionnaireResponse") if r["questionnaire"] == DAILY_URL]


def test_daily_responses_use_the_apps_canonical_questionnaire_and_codes(runner, record):
    data = export(runner, record["patient"].email)
    responses = daily_responses(data)
    assert [r["authored"] for r in responses] == [day(-3).isoformat(), day(-2).isoformat()]
    first = {item["linkId"]: item["answer"] for item in responses[0]["item"]}
    assert {code: answer[0]["valueInteger"] for code, answer in first.items() if code.startswith("q")} == \
        {"q1": 3, "q2": 2, "q3": 1, "q4": 0, "q5": 1, "q6": 2, "q7": 3}
    assert first["se_dissociation"] == [{"valueInteger": 1}] and first["se_nausea"] == [{"valueInteger": 3}]
    assert "se_dizziness" not in first  # not answered: not invented
    assert first["note"] == [{"valueString": "Slept badly"}]
    assert all(r["status"] == "completed" for r in responses)


def test_daily_data_carries_no_loinc_code(runner, record):
    data = export(runner, record["patient"].email)
    daily = [e for e in data["entry"] if DAILY_URL in json.dumps(e) or DAILY_CODES in json.dumps(e)]
    assert len(daily) == 1 + 2 + 2  # the Questionnaire, two responses, two totals
    text = json.dumps(daily)
    assert "loinc" not in text.lower()
    assert not re.search(r"\b\d{4,5}-\d\b", text)  # no LOINC-shaped code at all


def test_daily_totals_are_observations_with_the_local_code_only(runner, record):
    data = export(runner, record["patient"].email)
    urls = by_full_url(data)
    daily = [o for o in resources(data, "Observation") if coding(o["code"])[1] == "total"]
    assert [(o["effectiveDateTime"], o["valueQuantity"]["value"]) for o in daily] == \
        [(day(-3).isoformat(), 12), (day(-2).isoformat(), 4)]
    for o in daily:
        assert coding(o["code"]) == (DAILY_CODES, "total")
        assert o["valueQuantity"] == {**o["valueQuantity"], "unit": "{score}", "system": UCUM, "code": "{score}"}
        (source,) = o["derivedFrom"]
        assert urls[source["reference"]]["questionnaire"] == DAILY_URL


def test_the_daily_questionnaire_has_its_items_and_answer_options(runner, record):
    data = export(runner, record["patient"].email)
    (daily,) = [q for q in resources(data, "Questionnaire") if q["url"] == DAILY_URL]
    assert daily["url"].startswith("http://localhost/") and "loinc" not in json.dumps(daily).lower()
    items = {i["linkId"]: i for i in daily["item"]}
    for code in ITEM_LOINC:
        assert items[code]["type"] == "integer" and items[code]["required"] is True
        assert [o["valueInteger"] for o in items[code]["answerOption"]] == [0, 1, 2, 3]
        labels = [o["extension"][0]["valueString"] for o in items[code]["answerOption"]]
        assert labels == ["Not at all", "A little", "Quite a bit", "Very much"]
    assert items["q1"]["text"] == "Feeling nervous, anxious, or on edge"
    assert {f"se_{k}" for k in ("dissociation", "dizziness", "nausea", "headache", "drowsiness", "bladder",
                                "vision")} <= items.keys()
    assert items["note"]["type"] == "text" and items["note"]["maxLength"] == 1000


# --- Standard GAD-7s: LOINC, one code at a time.

def standard_responses(data):
    return [r for r in resources(data, "QuestionnaireResponse") if r["questionnaire"] == "http://loinc.org/q/69737-5"]


@pytest.mark.parametrize("code", ITEM_LOINC)
def test_each_standard_item_is_its_loinc_code_with_loinc_answer_codes(runner, record, code):
    responses = standard_responses(export(runner, record["patient"].email))
    assert len(responses) == len(STANDARD)
    for response, (on, answers, _) in zip(responses, STANDARD):
        (item,) = [i for i in response["item"] if i["linkId"] == ITEM_LOINC[code]]
        (answer,) = item["answer"]
        la, display = ANSWER_LOINC[answers[code]]
        assert answer == {"valueCoding": {"system": LOINC, "code": la, "display": display}}


@pytest.mark.parametrize("value", [0, 1, 2, 3])
def test_each_answer_value_is_its_la_code(runner, record, value):
    la, display = ANSWER_LOINC[value]
    responses = standard_responses(export(runner, record["patient"].email))
    seen = [(i["linkId"], i["answer"][0]["valueCoding"]) for r in responses for i in r["item"]
            if i["linkId"] != DIFFICULTY_ITEM]
    expected = [(ITEM_LOINC[c], {"system": LOINC, "code": la, "display": display})
                for _, answers, _ in STANDARD for c in ITEM_LOINC if answers[c] == value]
    assert expected and [s for s in seen if s[1]["code"] == la] == expected


@pytest.mark.parametrize("value", [0, 1, 2, 3])
def test_each_difficulty_is_its_la_code(runner, record, value):
    """75-0 is Very difficult, 74-3 Extremely (SPEC 2.2): not in numeric order."""
    la, display = DIFFICULTY_LOINC[value]
    responses = standard_responses(export(runner, record["patient"].email))
    (response,) = [r for r, (_, _, difficulty) in zip(responses, STANDARD) if difficulty == value]
    (item,) = [i for i in response["item"] if i["linkId"] == DIFFICULTY_ITEM]
    assert item["answer"] == [{"valueCoding": {"system": LOINC, "code": la, "display": display}}]


def test_the_very_and_extremely_difficult_codes_are_not_swapped(runner, record):
    responses = standard_responses(export(runner, record["patient"].email))
    difficulty = {r["authored"]: i["answer"][0]["valueCoding"] for r in responses for i in r["item"]
                  if i["linkId"] == DIFFICULTY_ITEM}
    assert difficulty[day(-12).isoformat()]["code"] == "LA6575-0"
    assert difficulty[day(-12).isoformat()]["display"] == "Very difficult"
    assert difficulty[day(-2).isoformat()]["code"] == "LA6574-3"
    assert difficulty[day(-2).isoformat()]["display"] == "Extremely difficult"


def test_a_standard_gad7_without_difficulty_has_no_difficulty_item(runner, record):
    (last,) = [r for r in standard_responses(export(runner, record["patient"].email)) if r["authored"] == day(-1).isoformat()]
    assert [i["linkId"] for i in last["item"]] == list(ITEM_LOINC.values())


def test_standard_responses_are_authored_on_their_local_date(runner, record):
    responses = standard_responses(export(runner, record["patient"].email))
    assert [r["authored"] for r in responses] == [on.isoformat() for on, _, _ in STANDARD]
    assert all(r["status"] == "completed" for r in responses)


def test_standard_totals_are_70274_6_scores_derived_from_their_response(runner, record):
    data = export(runner, record["patient"].email)
    urls = by_full_url(data)
    totals = [o for o in resources(data, "Observation") if coding(o["code"]) == (LOINC, "70274-6")]
    assert [(o["effectiveDateTime"], o["valueQuantity"]) for o in totals] == [
        (on.isoformat(), {"value": sum(answers.values()), "unit": "{score}", "system": UCUM, "code": "{score}"})
        for on, answers, _ in STANDARD]
    for o in totals:
        assert o["status"] == "final"
        assert coding(o["category"][0]) == ("http://terminology.hl7.org/CodeSystem/observation-category", "survey")
        (source,) = o["derivedFrom"]
        response = urls[source["reference"]]
        assert response["resourceType"] == "QuestionnaireResponse"
        assert response["questionnaire"] == "http://loinc.org/q/69737-5"
        assert response["authored"] == o["effectiveDateTime"]


def test_70274_6_is_on_standard_totals_only(runner, record):
    data = export(runner, record["patient"].email)
    carrying = [e["resource"] for e in data["entry"] if "70274-6" in json.dumps(e)]
    assert len(carrying) == len(STANDARD)
    assert all(r["resourceType"] == "Observation" for r in carrying)


def test_the_standard_questionnaire_references_loinc_69737_5_with_coded_items(runner, record):
    data = export(runner, record["patient"].email)
    (standard,) = [q for q in resources(data, "Questionnaire") if q["url"] == "http://loinc.org/q/69737-5"]
    assert coding({"coding": standard["code"]}) == (LOINC, "69737-5")
    items = [i for i in standard["item"] if i["type"] != "display"]
    assert [i["linkId"] for i in items] == [*ITEM_LOINC.values(), DIFFICULTY_ITEM]
    for item in items:
        assert item["code"][0]["system"] == LOINC and item["code"][0]["code"] == item["linkId"]
    assert [o["valueCoding"]["code"] for o in items[0]["answerOption"]] == [ANSWER_LOINC[v][0] for v in range(4)]
    assert [o["valueCoding"]["code"] for o in items[-1]["answerOption"]] == [DIFFICULTY_LOINC[v][0] for v in range(4)]
    assert "Pfizer" in standard["copyright"]


# --- Treatment sessions.

def administrations(data):
    return resources(data, "MedicationAdministration")


def test_each_session_given_is_a_completed_ketamine_administration(runner, record):
    given = administrations(export(runner, record["patient"].email))
    assert len(given) == len(record["given"])
    for administration in given:
        assert administration["status"] == "completed"
        assert coding(administration["medicationCodeableConcept"]) == (RXNORM, "6130")


@pytest.mark.parametrize("route", ROUTE_SNOMED)
def test_each_route_is_its_snomed_code(runner, record, route):
    given = administrations(export(runner, record["patient"].email))
    n = list(ROUTE_SNOMED).index(route)
    assert coding(given[n]["dosage"]["route"]) == (SNOMED, ROUTE_SNOMED[route])


def test_doses_are_ucum_milligrams(runner, record):
    given = administrations(export(runner, record["patient"].email))
    assert [a["dosage"]["dose"]["value"] for a in given] == [50, 37.5, 35, 56, 25, 100]
    for a in given:
        assert {k: v for k, v in a["dosage"]["dose"].items() if k != "value"} == \
            {"unit": "mg", "system": UCUM, "code": "mg"}


def test_administration_times_are_the_clinics_wall_clock_with_its_offset(runner, record):
    """Patient B lives in London; the clinic, which gives the sessions, is in New York, whose
    clocks went back on 1 November 2026."""
    given = administrations(export(runner, record["patient"].email))
    assert given[0]["effectiveDateTime"] == "2026-10-27T09:30:00-04:00"
    assert given[-1]["effectiveDateTime"] == "2026-11-01T09:30:00-05:00"


def test_planned_sessions_are_left_out(runner, record):
    data = export(runner, record["patient"].email)
    assert day(5).isoformat() not in json.dumps(administrations(data))


# --- The command.

def test_the_command_audits_the_export(runner, record):
    export(runner, record["patient"].email)
    (event,) = events("export.fhir")
    assert (event.actor_id, event.target_type, event.target_id, event.detail) == \
        (None, "patient", record["patient"].id, "cli")


@pytest.mark.parametrize("email, message", [
    ("nobody@example.test", "no account has the email nobody@example.test"),
    ("pa@clinic.test", "pa@clinic.test is a staff account (provider), not a patient's"),
])
def test_the_command_refuses_an_unknown_email_or_a_staff_account(runner, users, email, message):
    result = runner.invoke(args=["export-fhir", email])
    assert result.exit_code == 1
    assert message in result.output
    assert events("export.fhir") == []


def test_the_command_refuses_without_base_url(app, runner, users):
    app.config["BASE_URL"] = None
    result = runner.invoke(args=["export-fhir", users.patient_a.email])
    assert result.exit_code == 1 and "BASE_URL is not set" in result.output


def test_a_patient_with_nothing_recorded_gets_patient_and_questionnaires(runner, users):
    data = export(runner, users.patient_a.email)
    Bundle.model_validate(data)
    assert sorted(e["resource"]["resourceType"] for e in data["entry"]) == ["Patient", "Questionnaire", "Questionnaire"]
    db.session.rollback()
