"""The lock files (requirements/, written by requirements/lock from pyproject.toml) pin every
package to one version with the hashes of its files, agree with pyproject.toml, and give the
tests exactly the versions a clinic installs; requirements/audit fails on a known vulnerability
in any pin and never calls an audit that checked nothing a pass."""
import json
import os
import subprocess
import sys
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
LOCKS = ["app.txt", "test.txt", "build.txt", "tools.txt"]
# What requirements/lock resolves for: CPython 3.11 on Linux x86_64.
TARGET = {"python_version": "3.11", "python_full_version": "3.11.0", "sys_platform": "linux",
          "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
          "implementation_name": "cpython", "platform_python_implementation": "CPython"}


def read_lock(name: str) -> dict[str, tuple[str, frozenset[str]]]:
    """{package: (version, hashes)} of one lock file; fails on any line that is not an exact pin."""
    pins, entry = {}, ""
    for line in (REQUIREMENTS / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        entry += " " + line.removesuffix("\\")
        if line.endswith("\\"):
            continue
        spec, *options = entry.split()
        entry = ""
        package, sep, version = spec.partition("==")
        assert sep and version and not set(version) & set("<>=!~*,;@"), f"{name}: not an exact pin: {spec}"
        hashes = frozenset(o.removeprefix("--hash=sha256:") for o in options if o.startswith("--hash=sha256:"))
        assert hashes and len(hashes) == len(options), f"{name}: {spec} needs sha256 hashes and nothing else"
        assert canonicalize_name(package) not in pins, f"{name}: {package} twice"
        pins[canonicalize_name(package)] = (version, hashes)
    return pins


def wanted(requirements: list[str]) -> list[Requirement]:
    found = [Requirement(r) for r in requirements]
    return [r for r in found if r.marker is None or r.marker.evaluate(TARGET)]


def extras(*names: str) -> list[str]:
    optional = PYPROJECT["project"].get("optional-dependencies", {})
    return [r for name in names for r in optional.get(name, [])]


@pytest.mark.parametrize("lock", LOCKS)
def test_every_line_is_an_exact_version_with_hashes(lock):
    assert read_lock(lock)


@pytest.mark.parametrize("lock, requirements", [
    ("app.txt", PYPROJECT["project"]["dependencies"] + extras("server")),
    ("test.txt", PYPROJECT["project"]["dependencies"] + extras("server", "test")),
    ("build.txt", PYPROJECT["build-system"]["requires"]),
])
def test_the_locks_satisfy_pyproject(lock, requirements):
    """Fails when pyproject.toml changed and requirements/lock was not run."""
    pins = read_lock(lock)
    for requirement in wanted(requirements):
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement} is not in requirements/{lock}: run requirements/lock"
        assert requirement.specifier.contains(pins[name][0], prereleases=True), \
            f"requirements/{lock} has {name}=={pins[name][0]}, pyproject.toml wants {requirement}: run requirements/lock"


def test_the_tests_run_on_exactly_what_a_clinic_installs():
    app, test = read_lock("app.txt"), read_lock("test.txt")
    assert {name: test.get(name) for name in app} == app


def test_production_installs_nothing_only_the_tests_need():
    app = read_lock("app.txt")
    only_for_tests = {canonicalize_name(r.name) for r in wanted(extras("test"))} - {
        canonicalize_name(r.name) for r in wanted(PYPROJECT["project"]["dependencies"] + extras("server"))}
    assert only_for_tests and not only_for_tests & set(app)


@pytest.mark.parametrize("script", [".ci/run", "requirements/tools-venv"])
def test_hash_checked_installs_resolve_nothing_and_are_checked(script):
    # The one place this rule is explained. A lock file pins every dependency, so an install
    # need resolve nothing. Left to resolve, pip 23.2 (Python 3.11's) reads a dependency's
    # `pkg[extra]>=1` as a second, unpinned requirement once a newer pkg is out, and refuses
    # the whole hash-checked install: CI failed so when CacheControl 0.15.0 came out under
    # pip-audit's `CacheControl[filecache]`. So each install takes the pins as they are
    # (--no-deps), and pip check then proves they satisfy one another.
    lines = (ROOT / script).read_text().splitlines()
    installs = [n for n, line in enumerate(lines) if "pip install" in line and "--require-hashes" in line]
    assert installs, f"{script} installs no lock file"
    for n in installs:
        assert "--no-deps" in lines[n], f"{script}: {lines[n].strip()}"
        assert any("pip check" in later for later in lines[n + 1:]), f"{script}: no pip check after line {n + 1}"


def test_the_image_takes_its_locks_as_they_are_and_installs_from_those_wheels_alone():
    # As above; a wheel directory is not an environment pip check could read, so the runtime
    # stage's install, which may only use the locked wheels (--no-index), is the check.
    text = (ROOT / "Dockerfile").read_text()
    hashed = [line for line in text.splitlines() if "--require-hashes" in line and not line.lstrip().startswith("#")]
    assert len(hashed) == 2 and all("--no-deps" in line for line in hashed), hashed
    assert 'pip install --no-index --find-links /wheels "monitor[server]"' in text


def test_the_plotly_pin_is_the_one_whose_plotly_js_is_vendored():
    # tests/test_static_files.py ties the vendored bundle to pyproject's plotly==7.1.0; the lock follows it.
    assert read_lock("app.txt")["plotly"][0] == "7.1.0"


# --- requirements/audit ---------------------------------------------------------------------------

ADVISORY = {"id": "GHSA-test-only-0001", "aliases": ["CVE-0000-00001"], "summary": "made up for this test",
            "affected": [{"package": {"name": "flask", "ecosystem": "PyPI"},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "99.0"}]}]}]}


class AdvisoryService(BaseHTTPRequestHandler):
    """An OSV query endpoint (what pip-audit asks with PIP_AUDIT_VULNERABILITY_SERVICE=osv) that
    knows the advisories in `server.advisories`, by package name."""

    def do_POST(self):
        query = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        vulns = self.server.advisories.get(query["package"]["name"], [])
        body = json.dumps({"vulns": vulns} if vulns else {}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run_audit(advisories: dict) -> subprocess.CompletedProcess:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AdvisoryService)
    server.advisories = advisories
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {**os.environ, "PIP_AUDIT_VULNERABILITY_SERVICE": "osv",
           "PIP_AUDIT_OSV_URL": f"http://127.0.0.1:{server.server_port}/v1/query", "NO_PROXY": "127.0.0.1"}
    try:
        # requirements/audit makes .venv-tools from requirements/tools.txt when it is missing.
        return subprocess.run([str(REQUIREMENTS / "audit")], env=env, capture_output=True, text=True, timeout=300)
    finally:
        server.shutdown()
        server.server_close()


def test_the_audit_fails_on_a_known_vulnerability_in_any_pin():
    flask = read_lock("app.txt")["flask"][0]
    result = run_audit({"flask": [ADVISORY]})
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"VULNERABLE flask {flask}: CVE-0000-00001 GHSA-test-only-0001; fixed in: 99.0" in result.stderr


def test_the_audit_passes_when_no_advisory_names_a_pin():
    result = run_audit({})
    assert result.returncode == 0, result.stdout + result.stderr
    pinned = set().union(*(read_lock(lock) for lock in LOCKS))
    assert f"no known vulnerability in {len(pinned)} pinned packages" in result.stdout


def verdict_of(report: dict, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"dependencies": report, "fixes": []}))
    return subprocess.run([sys.executable, str(REQUIREMENTS / "audit_verdict.py"), str(path)],
                          capture_output=True, text=True)


def test_an_audit_that_checked_nothing_is_not_a_pass(tmp_path):
    # pip-audit's own exit status is 0 here ("No known vulnerabilities found").
    result = verdict_of([{"name": "flask", "skip_reason": "Dependency not found on PyPI"},
                         {"name": "jinja2", "skip_reason": "Dependency not found on PyPI"}], tmp_path)
    assert result.returncode == 3
    assert "could check none of the 2 pinned packages" in result.stderr


def test_a_pin_the_service_does_not_know_fails_the_audit(tmp_path):
    result = verdict_of([{"name": "flask", "version": "3.1.3", "vulns": []},
                         {"name": "jinja2", "skip_reason": "Dependency not found on PyPI"}], tmp_path)
    assert result.returncode == 1
    assert "NOT CHECKED jinja2: Dependency not found on PyPI" in result.stderr
