"""Accounts: signing in and out (views.py) and the signed-in security page (security_views.py)."""
from flask import Blueprint

bp = Blueprint("auth", __name__)

from . import security_views, views  # noqa: E402,F401  (they register their routes on bp)
