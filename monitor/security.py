"""Request-level protections: every security response header, the friendly answer to an
expired CSRF token, and trusting a reverse proxy's forwarded headers (only when told how many
proxies there are)."""
from urllib.parse import urlsplit

from flask import Flask, current_app, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix
from wtforms import PasswordField
from wtforms.fields.core import UnboundField

from .shell import ENDPOINTS as SHELL_ENDPOINTS

# No inline script anywhere: charts read their JSON from data tags (static/js/charts.js).
# plotly.js sets inline styles on the elements it draws, hence style-src 'unsafe-inline'.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
RESUBMIT_MESSAGE = "This page was open for a long time. Please check your answers and send again."
REFUSED_MESSAGE = ("This form came from somewhere else or could not be checked. "
                   "Go back, reload the page and submit again.")
# The view attribute that offers_resubmit() sets: the form whose answers may be offered again.
RESUBMIT_FORM = "resubmit_form"


def init_app(app: Flask) -> None:
    # Behind N reverse proxies, take the client address, scheme and host from the last N
    # X-Forwarded-* headers. Zero (the default) trusts none: a client could forge them.
    proxies = app.config["TRUSTED_PROXY_COUNT"]
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
    app.before_request(refuse_nul_characters)
    app.after_request(security_headers)
    app.register_error_handler(CSRFError, csrf_error)


def _https(app_config) -> bool:
    return request.is_secure or app_config.get("PREFERRED_URL_SCHEME") == "https"


def security_headers(response):
    from flask import current_app

    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    if _https(current_app.config):
        headers.setdefault("Strict-Transport-Security", HSTS)
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")  # for browsers that ignore CSP frame-ancestors
    headers.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    # Any page may show health information or a one-time link (error pages repeat what was sent,
    # the sign-in page the address typed): nothing but the static files is kept in any cache.
    # The manifest, the service worker and the offline page hold no one's data and need fixed
    # addresses: kept, but checked again on every use (monitor/shell).
    if request.endpoint in SHELL_ENDPOINTS:
        headers["Cache-Control"] = "no-cache"
    elif request.endpoint != "static":
        headers["Cache-Control"] = "no-store"
    return response


def refuse_nul_characters():
    """No form here accepts a NUL character and PostgreSQL cannot store one in text: refuse it
    up front with a 400 instead of failing at the database with a 500 (whose log would carry
    the submitted values)."""
    if request.method == "POST" and any("\x00" in value for _, value in request.form.items(multi=True)):
        return render_template("errors/error.html", title="Please check what you typed",
                               message="What you sent contains an invisible control character (error: NUL) "
                                       "that cannot be saved. Go back, remove it and send again."), 400
    return None


def offers_resubmit(form_class):
    """Mark a view whose answers are worth offering again after its CSRF token expired (a
    check-in left open all night): only such views, and only `form_class`'s declared fields.
    Put it below the route decorator."""
    def mark(view):
        setattr(view, RESUBMIT_FORM, form_class)
        return view
    return mark


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def proven_same_origin() -> bool:
    """True only when the browser says the POST came from this site: `Origin` equal to
    BASE_URL's origin, or, without an Origin, a `Referer` on it. `Origin: null` (a sandboxed
    frame, a no-referrer page, a redirect across sites), no header at all, or another site:
    not proven. Browsers send Origin on every POST, so a real person's form always proves it."""
    ours = _origin(current_app.config["BASE_URL"])
    origin = request.headers.get("Origin")
    if origin is not None:
        return origin != "null" and _origin(origin) == ours
    referer = request.headers.get("Referer")
    return bool(referer) and _origin(referer) == ours


def _declared_fields(form_class) -> tuple[list[tuple[str, str]], bool]:
    """The posted values of the form's own fields, nothing else (no planted field can ride
    along); passwords and the old token are never echoed into a page. (fields, dropped a password)."""
    declared = {name: field.field_class for name, field in _unbound_fields(form_class)}
    fields, dropped = [], False
    for name, value in request.form.items(multi=True):
        if name not in declared or name == "csrf_token":
            continue
        if issubclass(declared[name], PasswordField):
            dropped = True
            continue
        fields.append((name, value))
    return fields, dropped


def _unbound_fields(form_class):
    """(name, unbound field) for every field a WTForms class declares, inherited ones included."""
    for klass in reversed(form_class.__mro__):
        for name, value in vars(klass).items():
            if isinstance(value, UnboundField):
                yield name, value


def csrf_error(error: CSRFError):
    """An expired or missing token on a form that this site's page sent (a phone kept the
    page open all night, or the session cookie expired): offer to send the same answers again
    with a fresh token instead of losing them. No JavaScript: a form of hidden inputs and a
    button. Anything not proven to come from this site, or a form not worth re-offering (an
    admin's action), gets the plain error page: no other page can have a person's browser
    show them a ready-to-send form of its choosing."""
    view = current_app.view_functions.get(request.endpoint or "")
    form_class = getattr(view, RESUBMIT_FORM, None)
    if request.method != "POST" or form_class is None or not proven_same_origin():
        return render_template("errors/error.html", title="Please try again", message=REFUSED_MESSAGE), 400
    fields, dropped = _declared_fields(form_class)
    action = request.full_path if request.query_string else request.path
    return render_template("errors/csrf_resubmit.html", message=RESUBMIT_MESSAGE, fields=fields,
                           dropped=dropped, action=action), 400
