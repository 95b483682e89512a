"""One-click unsubscribe from nudge emails (SPEC 5; RFC 8058), reached from the email's link
without signing in (views.py). The link's token is made in monitor/tokens.py."""
from flask import Blueprint

bp = Blueprint("unsubscribe", __name__)

from . import views  # noqa: E402,F401  (registers its routes on bp)
