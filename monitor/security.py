"""Request-level protections: every security response header, the friendly answer to an
expired CSRF token, and trusting a reverse proxy's forwarded headers (only when told how many
proxies there are)."""
from urllib.parse import urlsplit

from flask import Flask, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script anywhere: charts read their JSON from data tags (static/js/charts.js).
# plotly.js sets inline styles on the elements it draws, hence style-src 'unsafe-inline'.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'")
HSTS = "max-age=31536000; includeSubDomains"
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=()"
RESUBMIT_MESSAGE = "This page was open for a long time. Please check your answers and send again."
# Never echoed back into a page: a password re-typed is better than one kept in HTML.
SECRET_FIELDS = ("csrf_token",)
SECRET_MARKERS = ("password",)


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
    if request.endpoint != "static":
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


def _same_origin() -> bool:
    """True unless the browser says the POST came from another site (Origin, else Referer)."""
    source = request.headers.get("Origin") or request.headers.get("Referer")
    if not source or source == "null":
        return True
    parts = urlsplit(source)
    return (parts.scheme, parts.netloc) == (request.scheme, request.host)


def _kept_fields() -> tuple[list[tuple[str, str]], bool]:
    fields, dropped = [], False
    for name, value in request.form.items(multi=True):
        if name in SECRET_FIELDS:
            continue
        if any(marker in name.lower() for marker in SECRET_MARKERS):
            dropped = True
            continue
        fields.append((name, value))
    return fields, dropped


def csrf_error(error: CSRFError):
    """An expired or missing token on a form sent from this site (a phone kept the page open
    all night, or the session cookie expired): offer to send the same answers again with a
    fresh token instead of losing them. No JavaScript: a form of hidden inputs and a button.
    A POST that another site sent gets the plain error page, so no site can have a person's
    browser show them a ready-to-send form of its choosing."""
    if request.method != "POST" or not _same_origin():
        return render_template("errors/error.html", title="Please try again",
                               message="This form came from somewhere else or could not be checked. "
                                       "Go back, reload the page and submit again."), 400
    fields, dropped = _kept_fields()
    action = request.full_path if request.query_string else request.path
    return render_template("errors/csrf_resubmit.html", message=RESUBMIT_MESSAGE, fields=fields,
                           dropped=dropped, action=action), 400
