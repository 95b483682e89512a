"""Installed the way a clinic's IT person installs it: the wheel is built, installed (not
editable) with the [server] extra into a fresh virtual environment, and that environment's own
`flask` and `gunicorn` migrate an empty SQLite file and a new PostgreSQL database and serve a
page. Every command runs outside the checkout, with nothing of it on the path, so only what the
wheel carries is there (issue 11: the migrations were once left out of it).

One wheel and one environment for the module: building and installing take most of the time.
PostgreSQL is the server .ci/run uses; unreachable, its test is skipped on a developer's
machine and fails in CI (CI=true), as the rate-limit tests treat Redis."""
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit
from uuid import uuid4

import psycopg
import pytest
from alembic.script import ScriptDirectory

from monitor import MIGRATIONS_DIR
from tests.factories import free_port, http_get, stop_process, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "monitor"
# Generous: a cold pip cache downloads every dependency from PyPI.
INSTALL_SECONDS = 900
COMMAND_SECONDS = 300
# Settings a real install has (SECRET_KEY set, https BASE_URL, Secure cookies by default);
# GET /login answers over plain http all the same.
REAL_SETTINGS = {"SECRET_KEY": "packaging-test-" + "k" * 32, "BASE_URL": "https://monitor.example.org"}


def _is_source(path: Path) -> bool:
    return "__pycache__" not in path.parts and path.suffix != ".pyc"


def _postgres_admin_url() -> str:
    """The server the suite uses (TEST_DATABASE_URL's, else .ci/run's), its maintenance database."""
    url = os.environ.get("TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(url.replace("postgresql+psycopg://", "postgresql://", 1))
    return urlunsplit(parts._replace(path="/postgres"))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel, built with pip from a copy of the project (a build in the checkout would
    leave build/ and monitor.egg-info/ in it)."""
    work = tmp_path_factory.mktemp("wheel")
    source = work / "source"
    source.mkdir()
    shutil.copy(ROOT / "pyproject.toml", source)
    shutil.copytree(PACKAGE, source / "monitor", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"),
                    str(source)], cwd=work, check=True, timeout=INSTALL_SECONDS)
    [built] = (work / "dist").glob("monitor-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    """A fresh virtual environment with the wheel and its [server] extra installed from PyPI."""
    path = tmp_path_factory.mktemp("installed") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True, timeout=COMMAND_SECONDS)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    subprocess.run([str(path / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                    f"{wheel}[server]"], cwd=path.parent, env=env, check=True, timeout=INSTALL_SECONDS)
    return path


def installed(venv: Path, *command: str, **settings: str) -> subprocess.CompletedProcess:
    """One of the installed environment's commands (flask, python...), run as on a new machine:
    no PYTHONPATH, no setting but these, the working folder outside the checkout."""
    return subprocess.run([str(venv / "bin" / command[0]), *command[1:]], cwd=venv.parent,
                          env=installed_env(venv, **settings), capture_output=True, text=True,
                          timeout=COMMAND_SECONDS)


def installed_env(venv: Path, **settings: str) -> dict:
    return {"PATH": f"{venv / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(venv.parent),
            "LANG": "C.UTF-8", **REAL_SETTINGS, **settings}


def head_revision() -> str:
    return ScriptDirectory(MIGRATIONS_DIR).get_current_head()


def migrate_and_check(venv: Path, database_url: str) -> None:
    upgrade = installed(venv, "flask", "--app", "monitor", "db", "upgrade", DATABASE_URL=database_url)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    current = installed(venv, "flask", "--app", "monitor", "db", "current", DATABASE_URL=database_url)
    assert current.returncode == 0, current.stdout + current.stderr
    assert f"{head_revision()} (head)" in current.stdout + current.stderr


def test_the_wheel_carries_every_file_of_the_package(wheel):
    """Templates, static files, data and every migration file (env.py, script.py.mako,
    alembic.ini, versions/*.py): whatever is in monitor/ in the checkout is in the wheel."""
    shipped = set(zipfile.ZipFile(wheel).namelist())
    in_checkout = {p.relative_to(ROOT).as_posix() for p in PACKAGE.rglob("*") if p.is_file() and _is_source(p)}
    assert in_checkout - shipped == set()
    migrations = Path(MIGRATIONS_DIR).relative_to(ROOT).as_posix()
    for name in ("env.py", "script.py.mako", "alembic.ini", f"versions/{head_revision()}.py"):
        assert f"{migrations}/{name}" in shipped


def test_the_installed_app_is_the_wheel_not_the_checkout(venv):
    found = installed(venv, "python", "-c", "import monitor; print(monitor.MIGRATIONS_DIR)")
    assert found.returncode == 0, found.stderr
    migrations = Path(found.stdout.strip())
    assert migrations.is_relative_to(venv) and "site-packages" in migrations.parts
    assert (migrations / "env.py").is_file()


def test_the_installed_app_migrates_an_empty_sqlite_file(venv):
    database = venv.parent / "monitor.db"
    database.touch(mode=0o600)  # empty, as an operator might create it
    migrate_and_check(venv, f"sqlite:///{database}")


@pytest.fixture
def new_postgres_database(venv):
    """A new, empty database on the suite's PostgreSQL server, dropped afterwards."""
    admin_url = _postgres_admin_url()
    try:
        admin = psycopg.connect(admin_url, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"PostgreSQL unreachable at {admin_url} in CI: {error}")
        pytest.skip(f"PostgreSQL unreachable at {admin_url}: {error}")
    name = f"monitor_packaging_{uuid4().hex[:12]}"
    with admin:
        admin.execute(f'create database "{name}"')
        try:
            yield urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))
        finally:
            admin.execute(f'drop database if exists "{name}" with (force)')


def test_the_installed_app_migrates_a_new_postgres_database_and_serves_it(venv, new_postgres_database):
    migrate_and_check(venv, new_postgres_database)
    port = free_port()
    # The README's command, from the installed environment.
    proc = subprocess.Popen(
        [str(venv / "bin" / "gunicorn"), "-c", "python:monitor.gunicorn_conf", "-w", "1", "-b", f"127.0.0.1:{port}",
         "monitor:create_app()"],
        cwd=venv.parent, env=installed_env(venv, DATABASE_URL=new_postgres_database),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until_serving(port, proc)
        status, _, page = http_get(port, "/login")
        assert status == 200, page
        # The stylesheet the page links to: the static files shipped and are served.
        stylesheet = re.search(r'href="(/static/[^"]+\.css)"', page).group(1)
        assert http_get(port, stylesheet)[0] == 200
    finally:
        stop_process(proc)
