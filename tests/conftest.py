"""Fixtures: a real database per test (SQLite file, or the PostgreSQL server when
TEST_DATABASE_URL is set), migrated with the project's own Alembic migrations, and three
standing kinds of user in the spirit of Healthchecks.io: someone with access, a teammate,
and someone with none who must get a 404 everywhere. Fixtures and plumbing only: data is built,
and what the app wrote is read, with the functions in tests/factories.py."""
import graphlib
import os
import shutil

import email_validator
import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from monitor import create_app, passwords, timeutil
from monitor.config import engine_options
from monitor.extensions import db
from tests.factories import NOW, TEST_HASHER, add_admin, add_patient, add_provider, login
from tests.smtp import SMTPServer

# Argon2's cheapest profile (PASSWORD_HASH in factories.py is made with the same hasher).
passwords.use_hasher(TEST_HASHER)

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL")

# Test addresses use the reserved .test domain, which email-validator refuses outside tests.
email_validator.TEST_ENVIRONMENT = True


def _migrate(url: str) -> None:
    from flask_migrate import upgrade

    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()


@pytest.fixture(scope="session")
def database_template(tmp_path_factory):
    """Migrate once per run; each test then gets a copy (SQLite) or emptied tables (PostgreSQL)."""
    if POSTGRES_URL:
        url = POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1)
        engine = create_engine(url)
        with engine.connect() as conn:  # fail loudly, never skip, when the server is unreachable
            conn.execute(text("select 1"))
        engine.dispose()
        _migrate(url)
        return url
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite:///{path}")
    return path


class _PostgresEmptier:
    """Every table as the migrations leave it: empty, but for the schema's revision and the
    write version's one row (without it nothing is kept between views: monitor/write_version.py),
    with every id sequence starting again at 1.

    Before each of about 1,800 tests, so it is quick: one connection kept for the run, and
    only the tables a test wrote to are emptied. A TRUNCATE of every table took about 60 ms,
    a sixth of the PostgreSQL suite. The append-only audit tables refuse DELETE (their
    triggers, migrations 0004 and 0011), so they are truncated, first, since deleting a user
    would update them; the others are deleted from, each table before the tables it refers to."""

    def __init__(self, url: str):
        self.engine = create_engine(url, pool_size=1, pool_pre_ping=True)
        with self.engine.connect() as conn:
            tables = [t for (t,) in conn.execute(text(
                "select tablename from pg_tables where schemaname = current_schema() "
                "and tablename <> 'alembic_version'"))]
            append_only = {t for (t,) in conn.execute(text(
                "select distinct tgrelid::regclass::text from pg_trigger where not tgisinternal"))}
            refers_to = {t: set() for t in tables}
            for child, parent in conn.execute(text(
                    "select conrelid::regclass::text, confrelid::regclass::text from pg_constraint "
                    "where contype = 'f' and connamespace = current_schema()::regnamespace")):
                if child != parent:
                    refers_to[parent].add(child)  # the child's rows go first
        self.append_only = append_only
        # graphlib orders each table after the tables listed for it: here, the tables referring to it.
        self.deletable = [t for t in graphlib.TopologicalSorter(refers_to).static_order() if t not in append_only]
        self.probe = text(" union all ".join(f"select '{t}' where exists (select 1 from \"{t}\")" for t in tables))

    def empty(self) -> None:
        with self.engine.begin() as conn:
            written = {t for (t,) in conn.execute(self.probe)}
            if written & self.append_only:
                conn.execute(text("truncate " + ", ".join(f'"{t}"' for t in sorted(self.append_only)) + " restart identity"))
            for table in self.deletable:
                if table in written:
                    conn.execute(text(f'delete from "{table}"'))
            # A sequence moves even when its insert is rolled back, so each used one is reset.
            conn.execute(text(
                "select setval(format('%I.%I', schemaname, sequencename)::regclass, 1, false) "
                "from pg_sequences where schemaname = current_schema() and last_value is not null"))
            conn.execute(text("insert into write_version (id, n, token) values (1, 0, md5(random()::text))"))


_emptiers: dict[str, _PostgresEmptier] = {}


def _empty_postgres(url: str) -> None:
    if url not in _emptiers:
        _emptiers[url] = _PostgresEmptier(url)
    _emptiers[url].empty()


@pytest.fixture
def db_url(database_template, tmp_path):
    if POSTGRES_URL:
        _empty_postgres(database_template)
        return database_template
    path = tmp_path / "monitor.db"
    shutil.copy(database_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def frozen_clock():
    timeutil.freeze(NOW)
    yield NOW
    timeutil.freeze(None)


class FreshRequestClient(FlaskClient):
    """Test requests run inside the fixture's app context, so they would share `g` (and the
    user Flask-Login caches there) and the database session with each other. Give every
    request what production gives it: no cached user, no open transaction, nothing stale."""

    def open(self, *args, **kwargs):
        g.__dict__.clear()
        db.session.rollback()
        return super().open(*args, **kwargs)


@pytest.fixture
def app(db_url, tmp_path, frozen_clock):
    app = create_app({
        "TESTING": True,
        "SQLALCHEMY_DATABASE_URI": db_url,
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(db_url),  # as production: SQLite waits for its lock
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,  # tests/test_ratelimit.py turns them on
        "MAIL_FILE_DIR": str(tmp_path / "mail"),
        "TWO_FACTOR_REQUIRED_FOR_STAFF": False,  # tests/test_two_factor.py turns it on
        "ANALYSIS_REFRESH_IN_BACKGROUND": False,  # tests/test_stored_analysis.py runs the thread itself
    })
    app.test_client_class = FreshRequestClient
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def users(app):
    """admin; provider_a with patient_a; provider_b with patient_b. Nobody else sees anyone."""
    admin = add_admin("admin@clinic.test", first_name="Ada", last_name="Admin")
    provider_a = add_provider("pa@clinic.test", first_name="Paula", last_name="Avery")
    provider_b = add_provider("pb@clinic.test", first_name="Peter", last_name="Brook")
    patient_a = add_patient("alice@example.test", first_name="Alice", last_name="Archer", providers=[provider_a])
    patient_b = add_patient("bob@example.test", first_name="Bob", last_name="Baker", timezone="Europe/London",
                            providers=[provider_b])

    class Users:
        pass

    u = Users()
    u.admin, u.provider_a, u.provider_b, u.patient_a, u.patient_b = admin, provider_a, provider_b, patient_a, patient_b
    return u


@pytest.fixture
def login_as(client):
    def _login(user):
        login(client, user)
        return client
    return _login


@pytest.fixture
def smtp(app):
    """A real SMTP server on loopback; the app is configured to send through it."""
    server = SMTPServer(app).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down(app):
    """Configured, but nothing listens on the port until the test calls start()."""
    server = SMTPServer(app)
    yield server
    server.stop()
