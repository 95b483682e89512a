"""A real install cannot start split-brained or in the clear: without SECRET_KEY (each machine
would make its own), without an https BASE_URL, or with cookies that are not Secure, the app
refuses with a message that names the setting and how to fix it: in create_app (gunicorn, any
WSGI server, `flask run`, `flask db upgrade`) or, for the app's own commands, when the command
runs. MONITOR_DEV=1 (a developer's machine) lifts it; the demo and the tests need none of it."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from monitor import config, create_app, startup_checks
from tests.factories import PASSWORD, flask_command, free_port, server_env

GOOD = {"SECRET_KEY": "k" * 64, "BASE_URL": "https://monitor.clinic.example"}


@pytest.fixture
def instance(tmp_path, monkeypatch):
    """A new install's instance folder (its static cache copied from the tests', to spare
    compressing plotly again), and an environment with nothing of the app's in it."""
    for name in ("SECRET_KEY", "BASE_URL", "SESSION_COOKIE_SECURE", "MONITOR_DEV", "DATABASE_URL", "LOG_FORMAT"):
        monkeypatch.delenv(name, raising=False)
    shared = Path(create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["STATIC_CACHE_DIR"])
    folder = tmp_path / "instance"
    shutil.copytree(shared, folder / "static-cache")
    return folder


def refusal(instance: Path) -> str:
    with pytest.raises(startup_checks.UnsafeConfiguration) as refused:
        create_app(instance_path=str(instance))
    return str(refused.value)


def test_a_configured_install_starts_and_makes_no_key_of_its_own(instance, monkeypatch):
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    app = create_app(instance_path=str(instance))
    assert app.config["SECRET_KEY"] == GOOD["SECRET_KEY"]
    assert not (instance / "secret_key").exists()


def test_without_secret_key_it_refuses_and_says_how_to_make_one(instance, monkeypatch):
    monkeypatch.setenv("BASE_URL", GOOD["BASE_URL"])
    message = refusal(instance)
    assert "SECRET_KEY is not set" in message and "secrets.token_hex(32)" in message
    assert "MONITOR_DEV=1" in message
    assert not (instance / "secret_key").exists()  # no key of this machine's own any more


def test_an_install_with_an_earlier_releases_key_is_told_to_keep_it(instance, monkeypatch):
    """Sessions and stored second-factor secrets were made under it: a new key would lock them out."""
    monkeypatch.setenv("BASE_URL", GOOD["BASE_URL"])
    (instance / "secret_key").write_text("e" * 64)
    said = refusal(instance)
    assert f"a key in {instance / 'secret_key'}, made by an earlier release or by the demo" in said
    assert "use its contents as SECRET_KEY" in said


def test_secret_key_may_come_from_instance_config(instance, monkeypatch):
    monkeypatch.setenv("BASE_URL", GOOD["BASE_URL"])
    (instance / "config.py").write_text("SECRET_KEY = 'from-the-instance-config'\n")
    assert create_app(instance_path=str(instance)).config["SECRET_KEY"] == "from-the-instance-config"


@pytest.mark.parametrize("base_url, said", [
    (None, "BASE_URL is not set"),
    ("http://monitor.clinic.example", "BASE_URL is 'http://monitor.clinic.example', not an https:// address"),
    ("https://", "BASE_URL is 'https://', not an https:// address"),
    ("monitor.clinic.example", "not an https:// address"),
])
def test_without_an_https_base_url_it_refuses(instance, monkeypatch, base_url, said):
    monkeypatch.setenv("SECRET_KEY", GOOD["SECRET_KEY"])
    if base_url is not None:
        monkeypatch.setenv("BASE_URL", base_url)
    message = refusal(instance)
    assert said in message and "BASE_URL=https://monitor.clinic.example" in message


def test_with_insecure_cookies_it_refuses(instance, monkeypatch):
    for name, value in GOOD.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")
    message = refusal(instance)
    assert "SESSION_COOKIE_SECURE is off" in message and "Remove SESSION_COOKIE_SECURE=0" in message
    assert "SECRET_KEY" not in message and "BASE_URL" not in message  # only what is wrong


def test_monitor_dev_lifts_every_check_with_a_warning(instance, monkeypatch, caplog):
    monkeypatch.setenv("MONITOR_DEV", "1")
    monkeypatch.setenv("SESSION_COOKIE_SECURE", "0")
    with caplog.at_level("WARNING", logger="monitor.startup_checks"):
        app = create_app(instance_path=str(instance))
    # A developer's machine keeps its own key, as before, and links to `flask run`'s address.
    assert app.config["SECRET_KEY"] == (instance / "secret_key").read_text().strip()
    assert app.config["BASE_URL"] == config.DEV_BASE_URL
    warned = [r.getMessage() for r in caplog.records if r.name == "monitor.startup_checks"]
    assert [w.split(": ", 1)[1].split(" ")[0] for w in warned] == ["SECRET_KEY", "BASE_URL", "SESSION_COOKIE_SECURE"]


def test_the_tests_configuration_is_not_checked(tmp_path):
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "SESSION_COOKIE_SECURE": False},
                     instance_path=str(tmp_path / "instance"))
    assert app.config["BASE_URL"] == "http://localhost"


def test_an_unknown_log_format_is_refused(instance, monkeypatch):
    monkeypatch.setenv("LOG_FORMAT", "xml")
    with pytest.raises(config.BadSetting, match="LOG_FORMAT is 'xml'; use one of text, json"):
        create_app(instance_path=str(instance))


# --- The commands and the server, for real -------------------------------------------------

def run(instance: Path, *args: str, **env) -> subprocess.CompletedProcess:
    return subprocess.run(flask_command(instance, *args), cwd=instance.parent, env=server_env(**env),
                          input=f"{PASSWORD}\n", capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [["db", "upgrade"], ["create-user", "ada@clinic.test", "--role", "admin"],
                                  ["send-nudges"], ["run"]])
def test_every_command_refuses_an_unsafe_configuration(instance, args):
    done = run(instance, *args, BASE_URL="http://monitor.clinic.example")
    assert done.returncode == 1, done
    assert "Error: refusing to start" in done.stderr and "SECRET_KEY is not set" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (instance / "secret_key").exists()


def test_a_refusing_command_still_explains_itself(instance):
    done = run(instance, "create-user", "--help")
    assert done.returncode == 0 and "Create an account with a password." in done.stdout


def test_monitor_dev_lets_the_commands_run(instance):
    done = run(instance, "db", "upgrade", MONITOR_DEV="1")
    assert done.returncode == 0, done.stderr
    assert (instance / "monitor.db").stat().st_size > 0


def test_gunicorn_does_not_start_on_an_unsafe_configuration(tmp_path, instance):
    proc = subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", "python:monitor.gunicorn_conf", "-w", "1", "-b",
         f"127.0.0.1:{free_port()}", f"monitor:create_app(instance_path={str(instance)!r})"],
        cwd=tmp_path, env=server_env(SECRET_KEY="k" * 64, BASE_URL="https://monitor.clinic.example",
                                     SESSION_COOKIE_SECURE="0"),
        capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert "SESSION_COOKIE_SECURE is off" in proc.stderr


# --- The demo ------------------------------------------------------------------------------

@pytest.fixture
def served(app, users, monkeypatch):
    """What the demo would serve, and with which BASE_URL (an existing database: no seeding)."""
    calls = []
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("monitor.cli.run_simple",
                        lambda host, port, app, **kw: calls.append((host, port, app.config["BASE_URL"])))
    return calls


@pytest.mark.parametrize("base_url, args, expected", [
    (None, ["--port", "8123"], "http://127.0.0.1:8123"),
    (None, [], "http://127.0.0.1:5000"),
    (None, ["--host", "0.0.0.0", "--port", "8123"], "http://127.0.0.1:8123"),  # reached here as 127.0.0.1
    (None, ["--host", "192.0.2.7", "--port", "8123"], "http://192.0.2.7:8123"),
    (None, ["--host", "::1", "--port", "8123"], "http://[::1]:8123"),
    (config.DEV_BASE_URL, ["--port", "8123"], "http://127.0.0.1:8123"),  # MONITOR_DEV=1's default
    ("https://demo.clinic.example", ["--port", "8123"], "https://demo.clinic.example"),  # set: kept
])
def test_demo_base_url_follows_its_port_unless_set(app, runner, served, base_url, args, expected):
    app.config["BASE_URL"] = base_url
    result = runner.invoke(args=["demo", *args])
    assert result.exit_code == 0, result.output
    assert served[0][2] == expected
