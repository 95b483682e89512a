from flask import Blueprint

bp = Blueprint("provider", __name__)


@bp.get("/patients")
def panel():
    return "todo"


@bp.get("/patients/new")
def enrol():
    return "todo"
