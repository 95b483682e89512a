"""The app's log lines, and an id for every request.

One handler, on the "monitor" logger: Flask's app.logger and every monitor.* module's logger.
The root logger belongs to whoever runs the app (gunicorn, a test runner, a process embedding
it) and is left alone. Werkzeug's server (the demo, `flask run`) prints its own request lines;
gunicorn's error log follows LOG_FORMAT through gunicorn_conf.py.

LOG_FORMAT=text (the default): one readable line per message, with the request's id.
LOG_FORMAT=json: one JSON object per line, and one line per request saying what an on-call
engineer needs and nothing a log must not hold: the method, the route's pattern (never the
path, which may carry a token or an id), the status, the time taken, the request id and the
signed-in user's id. Never the query string, a form value, an email address or a name. In text
mode the web server's access log is the request line (no second one from here).

Request ids: a fresh random one for every request, returned in X-Request-ID. One that comes in
with the request is used instead only behind trusted proxies (TRUSTED_PROXY_COUNT, the same
trust as the client address in security.py), so that a proxy's id and ours name the same
request, and only when it is a short plain token (no log line can be forged with it)."""
import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime

from flask import Flask, current_app, g, has_request_context, request, request_finished
from flask.logging import default_handler

# The app's logger (Flask names it after the package) and the parent of every module's.
APP_LOGGER = "monitor"
REQUEST_ID_HEADER = "X-Request-ID"
# A proxy's id as nginx ($request_id), Envoy or Caddy ({http.request.uuid}) make them.
INCOMING_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"

# The one line per request (LOG_FORMAT=json), under a name of its own to filter on.
request_log = logging.getLogger("monitor.requests")


class JsonLines(logging.Formatter):
    """One JSON object per line. The standard library's json rather than python-json-logger:
    the fields are few and fixed, and that is one dependency fewer to pin, audit and update."""

    def format(self, record: logging.LogRecord) -> str:
        line = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
                "level": record.levelname, "logger": record.name, "message": record.getMessage()}
        if getattr(record, "request_id", "-") != "-":
            line["request_id"] = record.request_id
        line.update(getattr(record, "fields", {}))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)  # escapes newlines: a traceback stays on its line


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = (g.get("request_id") if has_request_context() else None) or "-"
        return True


class AppLogHandler(logging.StreamHandler):
    """The handler this module puts on the app's logger (a class of its own, so that a second
    create_app in one process replaces it rather than adding another)."""


def formatter(log_format: str) -> logging.Formatter:
    return JsonLines() if log_format == "json" else logging.Formatter(TEXT_FORMAT)


def init_app(app: Flask) -> None:
    logger = logging.getLogger(APP_LOGGER)
    for handler in list(logger.handlers):
        if isinstance(handler, AppLogHandler) or handler is default_handler:
            logger.removeHandler(handler)
    handler = AppLogHandler(sys.stderr)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(formatter(app.config["LOG_FORMAT"]))
    logger.addHandler(handler)
    if logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)  # the root's WARNING would hide the app's INFO lines
    # Registered before every other hook, so the clock starts first and the header is set last.
    app.before_request(start_request)
    app.after_request(tag_response)
    if app.config["LOG_FORMAT"] == "json":
        # After the response is complete, the session saved and the audit written (Flask sends
        # request_finished after every after_request hook and the session's save).
        request_finished.connect(log_request, app)


def start_request() -> None:
    g.request_started = time.perf_counter()
    g.request_id = _incoming_id() or secrets.token_hex(16)


def _incoming_id() -> str | None:
    if not current_app.config["TRUSTED_PROXY_COUNT"]:
        return None
    value = request.headers.get(REQUEST_ID_HEADER, "")
    return value if INCOMING_ID.fullmatch(value) else None


def tag_response(response):
    response.headers[REQUEST_ID_HEADER] = g.get("request_id") or "-"
    return response


def log_request(sender: Flask, response, **extra) -> None:
    started = g.get("request_started")
    fields = {
        "method": request.method[:16],
        "route": request.url_rule.rule if request.url_rule is not None else None,
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1) if started is not None else None,
        "request_id": g.get("request_id"),
        "user_id": _signed_in_user_id(),
    }
    request_log.info("%s %s %s", fields["method"], fields["route"], fields["status"], extra={"fields": fields})


def _signed_in_user_id() -> int | None:
    """Who was signed in at the end of the request, as Flask-Login left it on `g`: asking
    current_user here would load the user for a request that never did (a static file, the
    health check) and cost it a query."""
    user = g.get("_login_user")
    return user.id if user is not None and user.is_authenticated else None
