"""GET /manifest.webmanifest, /sw.js and /offline (see __init__.py)."""
import hashlib
import json

from flask import current_app, render_template, url_for

from ..clinic import get_clinic
from . import bp

THEME_COLOUR = "#0b5cad"  # app.css's blue, drawn in the icons too (tools/make_icons.py)
BACKGROUND_COLOUR = "#f6f7f9"  # app.css's page background: the splash screen matches the first page
ICON_SIZES = (192, 512)

# The app shell the worker stores when it installs: the offline page and what it needs.
SHELL_STATIC = ["css/app.css", "js/offline.js", *(f"icons/{kind}-{size}.png"
                                                  for kind in ("icon", "maskable") for size in ICON_SIZES)]


def _json(body: dict | list, mimetype: str):
    return current_app.response_class(json.dumps(body, indent=1), mimetype=mimetype)


@bp.get("/manifest.webmanifest")
def manifest():
    clinic = get_clinic()
    icons = [{"src": url_for("static", filename=f"icons/{kind}-{size}.png"), "sizes": f"{size}x{size}",
              "type": "image/png", "purpose": purpose}
             for kind, purpose in (("icon", "any"), ("maskable", "maskable")) for size in ICON_SIZES]
    return _json({
        "id": "/checkin",
        "name": f"{clinic.name}: daily check-in",
        "short_name": "Check-in",
        "description": "Your daily anxiety check-in, trend and treatment sessions.",
        "start_url": url_for("patient.checkin"),
        "scope": "/",
        "display": "standalone",
        "orientation": "portrait",
        "theme_color": THEME_COLOUR,
        "background_color": BACKGROUND_COLOUR,
        "icons": icons,
    }, "application/manifest+json")


@bp.get("/sw.js")
def service_worker():
    """The worker, with this release's shell addresses written in. Any change to them changes
    the script, which is what makes a browser install the new worker and drop the old cache."""
    shell = [url_for("shell.offline"), *(url_for("static", filename=name) for name in SHELL_STATIC)]
    version = hashlib.sha256("\n".join(shell).encode()).hexdigest()[:12]
    script = render_template("shell/sw.js", shell_urls=shell, version=version)
    response = current_app.response_class(script, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = "/"
    return response


@bp.get("/offline")
def offline():
    """The page the worker shows for any page it cannot reach. The same for everyone: no name,
    no answers, no form token; the script fills in the check-ins waiting on this phone."""
    return render_template("shell/offline.html", clinic=get_clinic())
