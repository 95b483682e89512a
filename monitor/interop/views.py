"""GET the daily instrument's Questionnaire and CodeSystem as FHIR JSON (monitor/fhir.py builds them)."""
import json

from flask import Response, current_app

from .. import fhir
from ..patient_record import FHIR_MIMETYPE
from . import bp


def _resource(resource: dict) -> Response:
    return Response(json.dumps(resource, indent=2), mimetype=FHIR_MIMETYPE)


@bp.get(fhir.DAILY_PATH)
def daily_questionnaire():
    return _resource(fhir.daily_questionnaire(current_app.config["BASE_URL"]))


@bp.get(fhir.DAILY_CODES_PATH)
def daily_codes():
    return _resource(fhir.daily_codes(current_app.config["BASE_URL"]))
