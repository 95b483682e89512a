"""The daily instrument's published definitions (monitor/interop): every exported Bundle names the
daily Questionnaire and CodeSystem by this install's URLs, and those URLs answer, to anyone, with
the definitions themselves (valid FHIR R4), and with nothing about any patient."""
import json

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.codesystem import CodeSystem
from fhir.resources.R4B.questionnaire import Questionnaire

from tests.factories import add_checkin, day

DAILY_URL = "http://localhost/fhir/Questionnaire/daily-anxiety-checkin"  # the tests' BASE_URL is http://localhost
DAILY_CODES = "http://localhost/fhir/CodeSystem/daily-anxiety-checkin"


def _get(client, url: str):
    response = client.get(url.removeprefix("http://localhost"))
    assert response.status_code == 200
    assert response.mimetype == "application/fhir+json"
    assert "Set-Cookie" not in response.headers  # no session for a public definition
    return response.get_json()


def test_the_daily_questionnaire_is_served_at_its_canonical_url_signed_out(client):
    questionnaire = Questionnaire.model_validate(_get(client, DAILY_URL))
    assert questionnaire.url == DAILY_URL
    assert [item.linkId for item in questionnaire.item][1:8] == [f"q{n}" for n in range(1, 8)]
    assert "loinc" not in json.dumps(_get(client, DAILY_URL)).lower()  # a local instrument (SPEC 2.1)


def test_the_codesystem_holds_every_code_an_exported_daily_response_uses(client, runner, users):
    add_checkin(users.patient_a, day(-1), answers={"q1": 3, "q2": 2, "q3": 1, "q4": 0, "q5": 1, "q6": 2, "q7": 3},
                side_effects={"nausea": 2}, note="A note")
    codes = CodeSystem.model_validate(_get(client, DAILY_CODES))
    assert codes.url == DAILY_CODES
    known = {concept.code for concept in codes.concept}
    result = runner.invoke(args=["export-fhir", users.patient_a.email])
    assert result.exit_code == 0, result.output
    bundle = Bundle.model_validate_json(result.stdout)
    used = set()
    for entry in bundle.entry:
        resource = entry.resource
        if resource.__resource_type__ == "QuestionnaireResponse" and resource.questionnaire == DAILY_URL:
            used |= {item.linkId for item in resource.item}
        if resource.__resource_type__ == "Observation":
            used |= {c.code for c in resource.code.coding if c.system == DAILY_CODES}
        if resource.__resource_type__ == "Questionnaire" and resource.url == DAILY_URL:
            assert resource.model_dump(mode="json") == _get(client, DAILY_URL) | {"id": resource.id}
    assert used and used <= known


def test_the_definitions_carry_no_patient_data(client, users):
    add_checkin(users.patient_a, day(-1), 9, note="Private words")
    for url in (DAILY_URL, DAILY_CODES):
        text = json.dumps(_get(client, url))
        assert "Private words" not in text and users.patient_a.email not in text and "Alice" not in text
