"""What makes the app installable on a phone's home screen and usable without signal (issue 13):
the web app manifest, the service worker, and the offline page it shows when a page cannot be
reached (views.py).

The service worker keeps the app shell only: this offline page and the fingerprinted static
files (styles, scripts, icons). It never keeps a page or a response of a signed-in person, so
nothing carrying patient data is ever in the browser's Cache Storage: every such page is sent
`Cache-Control: no-store` (security.py) and the worker caches nothing that says so. A check-in
made without signal waits in the page's own queue instead (static/js/offline.js).

All three are public, hold no patient data and keep no one signed in (sessions.py leaves them
untracked: a browser checks the worker for updates in the background). They need fixed
addresses, unlike the fingerprinted static files: a manifest's and a worker's URL is their
identity, so each is answered `Cache-Control: no-cache` and revalidated on every use."""
from flask import Blueprint

bp = Blueprint("shell", __name__)

# The endpoints above: untracked by sessions.py, revalidated rather than never stored (security.py).
ENDPOINTS = frozenset({"shell.manifest", "shell.service_worker", "shell.offline"})

from . import views  # noqa: E402,F401  (registers its routes on bp)
