"""The definitions this install publishes for the FHIR Bundles it exports (views.py): the daily
check-in's Questionnaire and its CodeSystem, at the canonical URLs the Bundles name, so that an
EHR meeting them can resolve them. Public, like any published definition: they describe the
instrument and hold no patient data. No sign-in, no session, no audit."""
from flask import Blueprint

bp = Blueprint("interop", __name__)

from . import views  # noqa: E402,F401  (registers its routes on bp)
