"""GET /healthz for a load balancer, a container's HEALTHCHECK or a monitoring probe (views.py):
no sign-in, one database round trip, and nothing in the answer but whether this process can
serve. No version (it would tell an attacker which published flaws to try), no patient data.

What it is kept out of, and where: session bookkeeping (monitor/sessions.py: it neither reads,
touches nor ends a signed-in session, so a probe carrying a cookie keeps no one signed in), the
rate limits (monitor/ratelimit.py limits only POSTs to the sign-in doors), the audit log
(monitor/audit.py records only what a view asks it to) and CSRF (a GET is never checked and
this view issues no token, so it stores no session and sets no cookie)."""
from flask import Blueprint

bp = Blueprint("health", __name__)

from . import views  # noqa: E402,F401  (registers its routes on bp)
