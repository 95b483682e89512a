"""GET /healthz: 200 {"status": "ok"} after a `SELECT 1`, 503 {"status": "unavailable"} when
the database cannot answer. JSON, not a page: the error page would ask the database again (the
clinic's name), and a probe reads the status code anyway."""
import logging

from flask import jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from ..extensions import db
from . import bp

log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except SQLAlchemyError as error:
        db.session.rollback()
        # The kind of failure, for whoever is on call; the driver's words can name the server,
        # never a patient (no statement parameters, hide_parameters in config.py).
        log.warning("health check: the database did not answer (%s: %s)", type(error).__name__,
                    str(getattr(error, "orig", None) or error).splitlines()[0][:200])
        return _status("unavailable", 503)
    return _status("ok", 200)


def _status(status: str, code: int):
    response = jsonify(status=status)
    response.status_code = code
    # The security headers' no-store already covers every page; said here too, because a cached
    # "ok" would hide an outage from the very probe that is meant to see it.
    response.headers["Cache-Control"] = "no-store"
    return response
