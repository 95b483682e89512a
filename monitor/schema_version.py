"""Whether the database's schema is the one this release's code was written for, and the gate
that keeps the web app from serving a database that is not.

The database records its Alembic revision in alembic_version. It is:
  - at head: the code's latest revision; served.
  - behind: one of the code's older revisions, or empty (no alembic_version at all); refused
    until `flask --app monitor db upgrade` is run.
  - newer: a revision the code does not know, written by a newer release; refused, since
    this release's code would misread its tables and cannot downgrade it.

Where the check lives. Not in create_app: the command line builds the same app, and
`db upgrade`, `db current`, `backup` and `restore` must keep working on a database that is
behind, or the operator would be locked out of the very commands that fix it. So the check
is made only on the way into serving:
  - SchemaGate, the outermost WSGI layer, checks on the first request of each process (any
    server: gunicorn, `flask run`, the demo, which migrates before it serves). Until the
    database is right every request gets a 503, and is checked again, so a `db upgrade` run
    meanwhile takes effect without a restart. Once it has passed, a request costs one
    attribute test: no query, no lock.
  - gunicorn's post_worker_init hook (gunicorn_conf.py) makes the same check when a worker
    has built the app, so gunicorn refuses to start rather than start and answer 503.
The check is once per process by design: a database upgraded under running processes by a
newer release is the operator's procedure (stop, back up, upgrade, start the new release),
which docs/deploy.md describes."""
import functools
import logging
import threading
from dataclasses import dataclass
from enum import Enum

from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.wrappers import Response

from .extensions import db

UPGRADE_COMMAND = "flask --app monitor db upgrade"
BACKUP_COMMAND = "flask --app monitor backup PATH"
# What a refused request is told. The revisions and the command go to the server's log only:
# they are for the operator, and a public page names no version.
REFUSED_PAGE = ("Service unavailable: this server's software and its database do not match. "
                "The server's log says what the administrator must do.\n")

log = logging.getLogger(__name__)


class Status(Enum):
    AT_HEAD = "at head"
    BEHIND = "behind"
    EMPTY = "empty"
    NEWER = "newer"


@dataclass(frozen=True)
class CodeRevisions:
    head: str
    known: frozenset[str]


@functools.lru_cache(maxsize=None)
def code_revisions(directory: str) -> CodeRevisions:
    """The revisions of the migrations in `directory` (read once per process: it parses every
    migration file)."""
    script = ScriptDirectory(directory)
    return CodeRevisions(head=script.get_current_head(),
                         known=frozenset(r.revision for r in script.walk_revisions()))


def migrations_directory(app: Flask) -> str:
    """Where this app's migrations are: Flask-Migrate was given the one place (monitor.MIGRATIONS_DIR)."""
    return app.extensions["migrate"].directory


@dataclass(frozen=True)
class SchemaState:
    status: Status
    revision: str | None  # the database's; None when empty
    head: str  # the code's

    @property
    def problem(self) -> str | None:
        """What the operator must do, or None when the database can be served."""
        if self.status is Status.AT_HEAD:
            return None
        if self.status is Status.EMPTY:
            return (f"The database has no schema yet (no alembic_version table). "
                    f"Create it with: {UPGRADE_COMMAND}")
        if self.status is Status.BEHIND:
            return (f"The database schema is at revision {self.revision}, behind this release's "
                    f"{self.head}. Back it up ({BACKUP_COMMAND}), then run: {UPGRADE_COMMAND}")
        return (f"The database schema is at revision {self.revision}, which this release does not know: "
                f"this database was upgraded by a newer release: install that release. (To return to "
                f"this release, restore a backup made before that upgrade.)")


def classify(revisions: tuple[str, ...], code: CodeRevisions) -> SchemaState:
    """The state of a database whose alembic_version holds `revisions`."""
    if not revisions:
        return SchemaState(Status.EMPTY, None, code.head)
    unknown = [r for r in revisions if r not in code.known]
    if unknown:
        return SchemaState(Status.NEWER, unknown[0], code.head)
    if tuple(revisions) == (code.head,):
        return SchemaState(Status.AT_HEAD, code.head, code.head)
    return SchemaState(Status.BEHIND, revisions[0], code.head)


def state_of(connection, directory: str) -> SchemaState:
    """The state of the database behind a SQLAlchemy `connection`."""
    revisions = MigrationContext.configure(connection).get_current_heads()
    return classify(tuple(revisions), code_revisions(directory))


def current_state() -> SchemaState:
    """The state of the app's database (inside an app context)."""
    from flask import current_app

    with db.engine.connect() as connection:
        return state_of(connection, migrations_directory(current_app))


class SchemaGate:
    """The outermost WSGI layer: refuses every request (503) until the database is at head."""

    def __init__(self, app: Flask):
        self.app = app
        self.wsgi_app = app.wsgi_app
        self.passed = False
        self._lock = threading.Lock()
        self._logged: str | None = None

    def __call__(self, environ, start_response):
        if self.passed:  # every request after the first good one: nothing more
            return self.wsgi_app(environ, start_response)
        problem = self.check()
        if problem is not None:
            if problem != self._logged:  # once, not once a request
                self._logged = problem
                log.error("Refusing to serve: %s", problem)
            response = Response(REFUSED_PAGE, 503, mimetype="text/plain",
                                headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"})
            return response(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def check(self) -> str | None:
        """The problem with the database, or None once it is at head (remembered from then on).
        A database that cannot be reached is no answer: the request goes on and fails, or
        /healthz says 503, on its own; the next request checks again."""
        with self._lock:  # the first requests of several threads: one of them queries
            if self.passed:
                return None
            try:
                with self.app.app_context():
                    state = current_state()
            except SQLAlchemyError as error:
                log.warning("Could not read the database's schema revision (%s); checking again "
                            "at the next request", type(error).__name__)
                return None
            if state.problem is None:
                self.passed = True
            return state.problem


def init_app(app: Flask) -> None:
    """Called last in create_app, so the gate is outside every other layer."""
    gate = SchemaGate(app)
    app.wsgi_app = gate
    app.extensions["schema_gate"] = gate


def problem_before_serving(wsgi) -> str | None:
    """For a server's start-up hook: the problem with the database of this WSGI app (a
    create_app() app), or None when it can be served or is not ours."""
    gate = getattr(wsgi, "extensions", {}).get("schema_gate")
    return gate.check() if gate is not None else None
