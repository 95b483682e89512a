"""What the web servers say about a request: their log lines never hold a one-time token, and
their Server header names no version.

Invitation, password-reset and unsubscribe links carry their token in the path
(/account/reset/<token>); a line of an access log, which more people read and keep longer than
the database, would be enough to take over the account. RedactTokens rewrites such a line to
/account/reset/[redacted]: installed on Werkzeug's logger (the demo, `flask run`) and on the
app's own logger by init_app, and on gunicorn's access and error logs by gunicorn_conf.py.

Also what a server process does once it has loaded the app (settle_heap)."""
import gc
import logging
import re
from urllib.parse import unquote

from werkzeug.serving import WSGIRequestHandler

REDACTED = "[redacted]"
# Every route with a <token> (tests/test_serving.py checks this against the app's routes).
TOKEN_PATHS = ("/account/invitation/", "/account/reset/", "/account/two-factor-off/", "/unsubscribe/")
_TOKEN_IN_PATH = re.compile(
    "(" + "|".join(re.escape(p) for p in TOKEN_PATHS) + r")[^/?#\s\"']+", re.IGNORECASE)
SERVER_NAME = "monitor"


def redact(text: str) -> str:
    """The text with the token of every token link in it replaced by [redacted]. A line that
    has one is first percent-decoded, so /account%2Freset%2F<token> cannot slip past."""
    if "%" in text and _TOKEN_IN_PATH.search(unquote(text)):
        text = unquote(text)
    return _TOKEN_IN_PATH.sub(r"\1" + REDACTED, text)


class RedactTokens(logging.Filter):
    """Formats the record's message and takes out the tokens (see redact)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def add_filter_once(logger: logging.Logger) -> None:
    if not any(isinstance(f, RedactTokens) for f in logger.filters):
        logger.addFilter(RedactTokens())


def init_app(app) -> None:
    # Werkzeug's server logs every request line; Flask logs "Exception on <path>".
    add_filter_once(logging.getLogger("werkzeug"))
    add_filter_once(app.logger)


class RequestHandler(WSGIRequestHandler):
    """Werkzeug's request handler (the demo), saying "Server: monitor" rather than
    "Werkzeug/3.1.3 Python/3.11.7": a version tells an attacker which published flaws to try."""

    server_version = SERVER_NAME
    sys_version = ""

    def version_string(self) -> str:
        return SERVER_NAME


def settle_heap() -> None:
    """Once a server process has loaded the app: what it allocated while starting (modules,
    plotly's figure classes, SQLAlchemy's mappings; about 150,000 objects) lives as long as the
    process, so gc.freeze() takes it out of the collector's way. Without it every full
    collection walks all of it again, and a page that builds rows for 500 patients triggers
    several: the dashboard of benchmarks/clinic_scale.py took about 170 ms instead of 100
    (issue 9). Called by gunicorn_conf.post_worker_init, and by the benchmarks' in-process
    server for the same reason."""
    gc.collect()
    gc.freeze()
