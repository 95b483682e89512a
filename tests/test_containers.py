"""The containers, checked without a container daemon (there is none on the test machines):
the Dockerfile's stages, user, health check and command; compose.yaml's services, where each
gets its settings, which image they run and what they wait for; deploy/env.example naming every
setting the app reads; and the commands the image and compose.yaml run, run here for real
outside a container against a migrated SQLite database: gunicorn serving, the HEALTHCHECK
command, the two mail runners."""
import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from monitor import create_app
from tests.factories import free_port, http_get, read_output, stop_process, wait_until_serving

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"
ENV_EXAMPLE = ROOT / "deploy" / "env.example"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
COMMAND_SECONDS = 120
# The services built from the Dockerfile, and of those the ones that serve nothing.
IMAGE_SERVICES = {"app", "migrate", "nudges", "deliver-mail"}
NOT_SERVING = {"migrate", "nudges", "deliver-mail"}
# Settings the app reads that a production .env must not carry, and why.
NOT_FOR_PRODUCTION = {
    "MONITOR_DEV": "a developer's machine: lifts the start-up checks",
    "SESSION_COOKIE_SECURE": "Secure by default; 0 is for plain http on a developer's machine",
    "TEST_DATABASE_URL": "the test suite's database",
}


# --- The Dockerfile, read as instructions ---------------------------------------------------

def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comment lines dropped, continued lines joined."""
    found, pending = [], ""
    for line in text.splitlines():
        if line.strip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, arguments = pending.strip().partition(" ")
        found.append((keyword.upper(), arguments.strip()))
        pending = ""
    return found


def stages(text: str) -> list[list[tuple[str, str]]]:
    """The instructions of each stage, each list starting with its FROM."""
    result = []
    for keyword, arguments in instructions(text):
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, arguments))
    return result


def exec_form(arguments: str) -> list[str]:
    """A CMD or HEALTHCHECK command in JSON (exec) form: no shell between Docker and the process."""
    command = json.loads(arguments)
    assert isinstance(command, list) and all(isinstance(a, str) for a in command), arguments
    return command


def last(stage, keyword: str) -> str | None:
    values = [arguments for k, arguments in stage if k == keyword]
    return values[-1] if values else None


FINAL = stages(DOCKERFILE.read_text())[-1]


def image_command() -> list[str]:
    return exec_form(last(FINAL, "CMD"))


def healthcheck_command() -> list[str]:
    options, _, command = last(FINAL, "HEALTHCHECK").partition("CMD ")
    return exec_form(command)


def image_env() -> dict[str, str]:
    """The final stage's ENV values (KEY=value form), $PATH left out: the test keeps its own."""
    values = {}
    for arguments in (a for k, a in FINAL if k == "ENV"):
        for pair in arguments.split():
            key, _, value = pair.partition("=")
            if key != "PATH":
                values[key] = value
    return values


def test_the_image_is_built_in_two_stages_and_runs_on_slim_python():
    all_stages = stages(DOCKERFILE.read_text())
    assert len(all_stages) >= 2
    build, final = all_stages[0], all_stages[-1]
    assert re.match(r"python:3\.11-slim\S* AS build$", build[0][1])
    assert re.match(r"python:3\.11-slim\S*( AS \w+)?$", final[0][1])
    assert any(k == "RUN" and "pip wheel" in a for k, a in build)
    # The runtime stage has no source tree: it installs the wheels the build stage made.
    assert not any(k == "COPY" for k, _ in final)
    assert any(k == "RUN" and "from=build" in a and '"monitor[server]"' in a and "--no-index" in a for k, a in final)


def test_the_image_runs_as_a_user_without_privileges():
    user = last(FINAL, "USER")
    assert user and user.split(":")[0] not in ("root", "0")
    assert any(k == "RUN" and "useradd" in a and "--shell /usr/sbin/nologin" in a for k, a in FINAL)


def test_the_image_serves_with_gunicorn_and_the_shipped_settings_and_checks_its_health():
    command = image_command()
    assert command[0] == "gunicorn"
    assert command[command.index("-c") + 1] == "python:monitor.gunicorn_conf"
    assert command[-1] == "monitor:create_app()"
    assert last(FINAL, "ENTRYPOINT") is None  # so compose.yaml's `command` replaces the whole command
    assert "EXPOSE" in {k for k, _ in FINAL} and image_env()["PORT"] in last(FINAL, "EXPOSE").split()
    check = healthcheck_command()
    assert check[0] == "python" and "/healthz" in check[-1]  # slim has no curl


def test_the_image_holds_no_secret_and_its_build_sees_only_the_package():
    for keyword, arguments in instructions(DOCKERFILE.read_text()):
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"SECRET|PASSWORD|TOKEN|DATABASE_URL|MAIL_", arguments), arguments
    patterns = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    assert patterns[0] == "*"  # everything out, then what the build needs back in
    let_in = {p[1:] for p in patterns if p.startswith("!")}
    assert let_in == {"pyproject.toml", "monitor", "requirements/app.txt", "requirements/build.txt"}
    copied = {a.split()[0].rstrip("/") for k, a in instructions(DOCKERFILE.read_text())
              if k == "COPY" and not a.startswith("--from")}
    assert copied <= let_in
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()


# --- compose.yaml ------------------------------------------------------------------------------

COMPOSE_FILE = yaml.safe_load(COMPOSE.read_text())
SERVICES = COMPOSE_FILE["services"]


def test_compose_starts_every_part_of_the_system():
    assert set(SERVICES) == {"postgres", "redis", "migrate", "app", "nudges", "deliver-mail", "caddy"}


def test_every_service_names_where_its_settings_come_from():
    for name, service in SERVICES.items():
        assert "env_file" in service or "environment" in service, name
    for name in IMAGE_SERVICES:
        assert SERVICES[name]["env_file"] == ".env", name
    for name in set(SERVICES) - IMAGE_SERVICES:  # the others get only what they name, never all of .env
        assert "env_file" not in SERVICES[name], name


def test_the_apps_services_run_the_image_built_from_the_dockerfile():
    images = set()
    for name in IMAGE_SERVICES:
        build = SERVICES[name]["build"]
        context = build if isinstance(build, str) else build["context"]
        assert (COMPOSE.parent / context).resolve() == ROOT, name
        assert isinstance(build, str) or build.get("dockerfile", "Dockerfile") == "Dockerfile"
        images.add(SERVICES[name]["image"])
    assert len(images) == 1  # built once, run four ways
    assert "command" not in SERVICES["app"]  # the image's own: gunicorn


def test_the_database_is_migrated_before_anything_uses_it():
    def condition(service: str, on: str) -> str:
        return SERVICES[service]["depends_on"][on]["condition"]

    assert "healthcheck" in SERVICES["postgres"] and "healthcheck" in SERVICES["redis"]
    assert condition("migrate", "postgres") == "service_healthy"
    for name in ("app", "nudges", "deliver-mail"):
        assert condition(name, "migrate") == "service_completed_successfully", name
    assert condition("app", "redis") == "service_healthy"
    assert condition("caddy", "app") == "service_healthy"
    assert SERVICES["migrate"]["restart"] == "no"  # one-shot: a restart loop would hide a failure


def test_only_the_app_keeps_the_images_health_check():
    for name in NOT_SERVING:
        assert SERVICES[name]["healthcheck"] == {"disable": True}, name
    assert "healthcheck" not in SERVICES["app"]


def test_the_commands_compose_runs_are_the_apps_own():
    assert SERVICES["migrate"]["command"] == ["flask", "--app", "monitor", "db", "upgrade"]
    assert SERVICES["nudges"]["command"] == ["flask", "--app", "monitor", "send-nudges", "--loop"]
    assert SERVICES["deliver-mail"]["command"] == ["flask", "--app", "monitor", "deliver-mail", "--loop"]
    app = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"})
    for name in ("nudges", "deliver-mail"):
        _, _, _, command, option = SERVICES[name]["command"]
        assert option in {o for p in app.cli.get_command(None, command).params for o in p.opts}
    assert "upgrade" in app.cli.get_command(None, "db").commands


def test_the_database_and_redis_are_not_published_and_reach_nothing_outside():
    assert COMPOSE_FILE["networks"]["backend"] == {"internal": True}
    for name in ("postgres", "redis"):
        assert "ports" not in SERVICES[name] and SERVICES[name]["networks"] == ["backend"], name
    assert {name for name, s in SERVICES.items() if "ports" in s} == {"caddy"}


def _settings_the_app_reads() -> set[str]:
    """Every name monitor/ reads from the environment: os.environ.get("X"), os.environ["X"],
    os.getenv("X") and config.py's _env_bool("X")."""
    names = set()
    for path in (ROOT / "monitor").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
                called = ast.unparse(node.func)
                if called in ("os.environ.get", "os.getenv", "environ.get", "_env_bool"):
                    names.add(node.args[0].value)
            elif isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("os.environ", "environ"):
                if isinstance(node.slice, ast.Constant):
                    names.add(node.slice.value)
    return names


def _documented() -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def test_env_example_documents_every_setting_and_holds_no_real_secret():
    app_environment = set(SERVICES["app"]["environment"])
    read = _settings_the_app_reads()
    assert {"SECRET_KEY", "DATABASE_URL", "BASE_URL", "MAIL_SERVER"} <= read
    assert read - _documented() - app_environment - set(NOT_FOR_PRODUCTION) == set()
    assert _documented() & set(NOT_FOR_PRODUCTION) == set()
    # Every ${NAME} compose.yaml takes from .env is there too (with a default it is optional).
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    assert required <= _documented()
    for line in ENV_EXAMPLE.read_text().splitlines():
        if re.match(r"^[A-Z_]*(SECRET_KEY|PASSWORD)=.", line):
            assert "change-me" in line, line


@pytest.mark.skipif(shutil.which("caddy") is None, reason="caddy is not installed (apt-get install caddy)")
def test_the_caddyfile_is_valid():
    checked = subprocess.run(["caddy", "validate", "--adapter", "caddyfile", "--config", str(CADDYFILE)],
                             env={**os.environ, "MONITOR_DOMAIN": "monitor.example.org",
                                  "ACME_EMAIL": "it@example.org"},
                             capture_output=True, text=True, timeout=COMMAND_SECONDS)
    assert checked.returncode == 0, checked.stderr
    assert "Valid configuration" in checked.stdout + checked.stderr


# --- The image's commands, outside a container -------------------------------------------------

@pytest.fixture(scope="module")
def outside(tmp_path_factory):
    """The environment the image gives its commands, here: the package copied to a folder of
    its own (so its instance folder, where the static cache goes, is not the checkout's), the
    Dockerfile's ENV, real settings (a secret key, an https address, Secure cookies), and a
    SQLite database migrated with compose's migrate command."""
    work = tmp_path_factory.mktemp("outside")
    shutil.copytree(ROOT / "monitor", work / "code" / "monitor", ignore=shutil.ignore_patterns("__pycache__"))
    shared_cache = create_app({"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://"}).config["STATIC_CACHE_DIR"]
    shutil.copytree(shared_cache, work / "code" / "instance" / "static-cache")  # no compressing again
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("MAIL_", "FLASK_", "DATABASE_URL", "SECRET_KEY", "TEST_DATABASE_URL", "GUNICORN"))}
    env.update(image_env())
    env.update(PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}", PYTHONPATH=str(work / "code"),
               SECRET_KEY="containers-test-" + "k" * 32, BASE_URL="https://monitor.example.org",
               DATABASE_URL=f"sqlite:///{work / 'monitor.db'}")
    migrated = subprocess.run(SERVICES["migrate"]["command"], cwd=work, env=env, capture_output=True, text=True,
                              timeout=COMMAND_SECONDS)
    assert migrated.returncode == 0, migrated.stderr
    return work, env


@pytest.fixture(scope="module")
def served(outside):
    """The image's command running; the port it serves on. PORT as in the image; gunicorn binds
    it on every interface there, on loopback here (GUNICORN_CMD_ARGS, which the command
    leaves open)."""
    work, env = outside
    port = free_port()
    env = {**env, "PORT": str(port), "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port}"}
    proc = subprocess.Popen(image_command(), cwd=work, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        wait_until_serving(port, proc)
        yield port, env
    finally:
        stop_process(proc)


def test_the_images_command_serves_the_app(served):
    port, _ = served
    status, headers, page = http_get(port, "/login")
    assert status == 200 and "Sign in" in page
    assert headers.get_all("Server") == ["gunicorn"]


def test_the_images_health_check_passes_against_the_running_app(served):
    port, env = served
    status, _, body = http_get(port, "/healthz")
    assert status == 200 and json.loads(body) == {"status": "ok"}
    checked = subprocess.run(healthcheck_command(), env=env, capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


@pytest.mark.parametrize("service", ["nudges", "deliver-mail"])
def test_the_runners_start_run_and_stop_on_sigterm(outside, service):
    """As `docker compose stop` stops them: SIGTERM, after their first run."""
    work, env = outside
    proc = subprocess.Popen(SERVICES[service]["command"], cwd=work, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        lines = read_output(proc, until=lambda lines: len(lines) >= 2, seconds=COMMAND_SECONDS)
    finally:
        out, err = stop_process(proc)
    name = SERVICES[service]["command"][3]
    assert lines[0].startswith(f"{name}: running"), (lines, err)
    assert lines[1].startswith(f"{name} "), (lines, err)  # the run's summary line
    assert proc.returncode == 0 and f"{name}: stopped." in out, err


def test_every_services_log_is_rotated():
    for name, service in SERVICES.items():
        assert service["logging"]["options"]["max-size"], name
