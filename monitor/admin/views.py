"""Clinic administration (staff accounts, assignments, settings, audit log) — see issue 5 for the audit viewer."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
