"""gunicorn's settings for this app (monitor/serving.py says why):

    gunicorn -c python:monitor.gunicorn_conf -w 2 -b 127.0.0.1:8000 'monitor:create_app()'

Options given on the command line (--access-logfile, -w, ...) still apply on top of these."""
import sys

import gunicorn
from gunicorn.arbiter import Arbiter
from gunicorn.glogging import Logger

from monitor import schema_version
# Names, not modules: every name here is read as a gunicorn setting, and `config` is one.
from monitor.config import log_format_from_env
from monitor.logs import JsonLines
from monitor.serving import add_filter_once, settle_heap

# Before 20.1 gunicorn's Server header carried its version ("gunicorn/19.9.0"); from 20.1 it
# says only "gunicorn".
if gunicorn.version_info < (20, 1):
    raise RuntimeError(f"gunicorn {gunicorn.__version__} names its version in every response; use 23 or later")


class RedactingLogger(Logger):
    """gunicorn's logger, with the tokens of account links taken out of the access log (the
    request line and the referrer) and the error log ("Error handling request <uri>"). With
    LOG_FORMAT=json its error log (workers starting, stopping, failing) is JSON lines too, like
    the app's, so that one stream holds nothing a log collector cannot parse. The access log,
    when asked for, keeps gunicorn's format: the app's JSON request line replaces it."""

    def setup(self, cfg):
        super().setup(cfg)  # also run again when gunicorn reloads its configuration
        add_filter_once(self.access_log)
        add_filter_once(self.error_log)
        if log_format_from_env() == "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonLines())


logger_class = RedactingLogger


def post_worker_init(worker):
    """Each worker, with the app loaded: the database's schema checked before it serves
    (monitor/schema_version.py), so a database behind or ahead of this release stops gunicorn
    at start-up with the reason in its log rather than answering 503 to every request; then
    its start-up objects frozen (monitor/serving.py)."""
    problem = schema_version.problem_before_serving(getattr(worker, "wsgi", None))
    if problem is not None:
        worker.log.error("Refusing to serve: %s", problem)
        # gunicorn halts, rather than restarting the worker over and over, on this status.
        sys.exit(Arbiter.WORKER_BOOT_ERROR)
    settle_heap()
