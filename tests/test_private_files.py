"""Everything under instance/ is the app's own user's only: folders 0700, files 0600, whatever
the process umask (each test here runs with umask 0, which would leave files 0666)."""
import os
import shutil
import stat
from contextlib import contextmanager
from pathlib import Path

import pytest
from flask_migrate import upgrade
from sqlalchemy import text

from monitor import create_app, mail, private_files
from monitor.extensions import db


def mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def modes_under(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): mode(p) for p in [root, *root.rglob("*")]}


@contextmanager
def umask(value: int):
    old = os.umask(value)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    """create_app() as a real install runs it: secret, SQLite and mail files in instance/.
    Its static cache starts as a copy of the tests' (made with the umask's modes, as
    static_files.py makes it), to spare compressing plotly again."""
    for name in ("DATABASE_URL", "SECRET_KEY", "MAIL_SERVER", "BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    # A developer's checkout: the one kind of install that keeps its key in instance/secret_key
    # (a real one is refused without SECRET_KEY, tests/test_startup_checks.py).
    monkeypatch.setenv("MONITOR_DEV", "1")
    shared = Path(create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["STATIC_CACHE_DIR"])
    shutil.copytree(shared, tmp_path / "instance" / "static-cache")


def test_a_new_install_creates_everything_under_instance_owner_only(tmp_path, production_env):
    instance = tmp_path / "instance"
    with umask(0):
        app = create_app(instance_path=str(instance))
        with app.app_context():
            upgrade()  # creates monitor.db, in WAL mode
            with db.engine.connect() as conn:  # -wal and -shm exist while a connection is open
                conn.execute(text("create table probe (x integer)"))
                assert {"monitor.db-wal", "monitor.db-shm"} <= {p.name for p in instance.iterdir()}
                mail.deliver(mail.build_message("someone@example.test", "Subject", "Body"))
                found = modes_under(instance)
            db.engine.dispose()

    assert {"secret_key", "monitor.db", "monitor.db-wal", "monitor.db-shm", "mail", "static-cache"} <= set(found)
    assert any(name.endswith(".eml") for name in found)
    assert any(name.startswith("static-cache/") and name.endswith(".br") for name in found)
    wrong = {name: oct(m) for name, m in found.items()
             if m != (0o700 if (instance / name).is_dir() else 0o600)}
    assert wrong == {}


def test_an_existing_install_is_made_private_at_start(tmp_path, production_env):
    """A checkout makes instance/ 0755; an earlier release wrote 0644 files."""
    instance = tmp_path / "instance"
    (instance / "mail").mkdir()
    (instance / "mail" / "old.eml").write_text("Subject: a sign-in link\n")
    (instance / "secret_key").write_text("k" * 64)
    (instance / "config.py").write_text("MAIL_PASSWORD = 'secret'\n")
    (instance / "monitor.db").write_bytes(b"")
    (instance / "monitor.db-wal").write_bytes(b"")
    for path in [instance, *instance.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)

    app = create_app(instance_path=str(instance))

    assert app.config["SECRET_KEY"] == "k" * 64
    assert app.config["MAIL_PASSWORD"] == "secret"
    for name, m in modes_under(instance).items():
        assert m == (0o700 if (instance / name).is_dir() else 0o600), name


def test_the_sqlite_file_is_created_0600_before_sqlite_creates_it(tmp_path):
    path = tmp_path / "elsewhere.db"
    with umask(0):
        private_files.private_sqlite_file(f"sqlite:///{path}")
    assert path.exists() and path.stat().st_size == 0 and mode(path) == 0o600


def test_a_database_outside_instance_is_made_private_too(tmp_path):
    path = tmp_path / "elsewhere.db"
    path.write_bytes(b"")
    (tmp_path / "elsewhere.db-shm").write_bytes(b"")
    os.chmod(path, 0o644)
    os.chmod(tmp_path / "elsewhere.db-shm", 0o666)

    create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}"})

    assert mode(path) == mode(tmp_path / "elsewhere.db-shm") == 0o600


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:", "postgresql+psycopg://u@h/db"])
def test_databases_that_are_no_file_are_left_alone(url, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    private_files.private_sqlite_file(url)
    assert list(tmp_path.iterdir()) == []


def test_emails_written_as_files_are_private(app, tmp_path):
    with umask(0):
        mail.deliver(mail.build_message("someone@example.test", "Your link", "http://x/account/reset/abc"))
    folder = Path(app.config["MAIL_FILE_DIR"])
    [eml] = folder.glob("*.eml")
    assert (mode(folder), mode(eml)) == (0o700, 0o600)


def test_a_new_secret_key_is_written_0600_in_a_0700_folder(tmp_path, monkeypatch):
    from monitor.config import load_or_create_secret_key

    monkeypatch.delenv("SECRET_KEY", raising=False)
    with umask(0):
        key = load_or_create_secret_key(str(tmp_path / "instance"))
    assert (tmp_path / "instance" / "secret_key").read_text() == key
    assert mode(tmp_path / "instance") == 0o700 and mode(tmp_path / "instance" / "secret_key") == 0o600
