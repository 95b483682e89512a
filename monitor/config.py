"""Every configuration default, in this one module. Order of precedence (lowest first): these
defaults, the environment, instance/config.py, then the test config passed to create_app.
Other modules read app.config and never supply a default of their own."""
import os
import secrets
import tempfile
from pathlib import Path

import click

from . import private_files


class BadSetting(click.ClickException):
    """A setting with a value that means nothing: said plainly by every `flask` command (no
    traceback) and by gunicorn before it serves."""


def database_url_from_env(instance_path: str) -> str:
    """DATABASE_URL selects the database; the embedded default is SQLite in instance/.

    Plain postgresql:// URLs are pointed at psycopg 3, the driver we ship."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        return "sqlite:///" + os.path.join(instance_path, "monitor.db")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def instance_secret_key_path(instance_path: str) -> Path:
    return Path(instance_path) / "secret_key"


def load_or_create_secret_key(instance_path: str) -> str:
    """A developer's (MONITOR_DEV=1) or the demo's secret, kept in instance/secret_key,
    generated on first use, never committed. A real install sets SECRET_KEY instead, the same
    on every machine (monitor/startup_checks.py)."""
    path = instance_secret_key_path(instance_path)
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_hex(32)
    private_files.private_folder(path.parent)
    # O_EXCL: two workers starting at once must not each write a different key.
    try:
        private_files.write_private_file(path, key.encode())
    except FileExistsError:
        return path.read_text().strip()
    return key


def secret_key_fallbacks_from_env() -> list[str]:
    """SECRET_KEY_FALLBACKS: earlier keys, still accepted while a rotation is under way
    (monitor/crypto.py), separated by commas or spaces. A list, as Flask wants: a plain string
    would be read as one key per character."""
    return (os.environ.get("SECRET_KEY_FALLBACKS") or "").replace(",", " ").split()


# Where `flask run` serves by default: BASE_URL on a developer's machine (MONITOR_DEV=1) when unset.
DEV_BASE_URL = "http://127.0.0.1:5000"
# LOG_FORMAT: "text" (one readable line per message) or "json" (monitor/logs.py).
LOG_FORMATS = ("text", "json")


def demo_base_url(host: str, port: int) -> str:
    """The demo's BASE_URL when none is set: where it serves. Links in its emails, and the
    origin its forms are checked against, must name the port the browser uses; an address that
    listens everywhere (0.0.0.0, ::) is reached on this machine as 127.0.0.1."""
    # (bandit B104 is about binding to every interface: this recognises the address, binds nothing)
    if host in ("", "0.0.0.0", "::"):  # nosec B104
        host = "127.0.0.1"
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def log_format_from_env() -> str:
    """LOG_FORMAT, checked: a typo must not silently give another format than the one asked for."""
    value = (os.environ.get("LOG_FORMAT") or "text").strip().lower()
    if value not in LOG_FORMATS:
        raise BadSetting(f"LOG_FORMAT is {value!r}; use one of {', '.join(LOG_FORMATS)} (or leave it unset for text).")
    return value


def _env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


# Settings that do not depend on the machine.
STATIC_DEFAULTS = {
    # hide_parameters: a logged database error must not quote a note or an email address.
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True, "hide_parameters": True},
    "MAIL_TIMEOUT": 10,
    "INVITATION_TTL_HOURS": 72,
    "PASSWORD_RESET_TTL_MINUTES": 60,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    # Signed-in sessions (monitor/sessions.py): idle and absolute limits, HIPAA automatic logoff.
    "STAFF_IDLE_MINUTES": 15,
    "STAFF_ABSOLUTE_HOURS": 12,
    "PATIENT_IDLE_MINUTES": 30,
    "PATIENT_ABSOLUTE_HOURS": 12,
    "PATIENT_REMEMBER_DAYS": 30,
    # How long before the idle limit a signed-in page warns and offers "Stay signed in" (static/js/idle.js).
    "IDLE_WARNING_SECONDS": 120,
    # Providers and admins must confirm an authenticator before doing anything else.
    "TWO_FACTOR_REQUIRED_FOR_STAFF": True,
    # Sign-in rate limits (monitor/ratelimit.py); RATELIMIT_REDIS_URL below shares them.
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_REDIS_URL": None,
    "RATELIMIT_KEY_PREFIX": "monitor:ratelimit:",
    # How many reverse proxies' X-Forwarded-* headers to trust (0: none; monitor/security.py).
    "TRUSTED_PROXY_COUNT": 0,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "REMEMBER_COOKIE_SAMESITE": "Lax",
    # A phone may keep a check-in form open all day; the CSRF token must outlive that.
    "WTF_CSRF_TIME_LIMIT": 24 * 3600,
    "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
    # After a change of SPEC 4's settings every stored analysis is recomputed: in a thread, so
    # the admin's request returns at once (False: in the request; the tests use that).
    "ANALYSIS_REFRESH_IN_BACKGROUND": True,
}


CONNECT_TIMEOUT_SECONDS = 5


def engine_options(url: str, threads: int = 1) -> dict:
    """Engine options for this database. `threads`: how many requests one web process serves
    at once (gunicorn's --threads; 1 for its default sync workers), WEB_THREADS in defaults()."""
    options = dict(STATIC_DEFAULTS["SQLALCHEMY_ENGINE_OPTIONS"])
    if url.startswith("sqlite"):
        # SQLite has one writer at a time: the web app and overlapping send-nudges runs wait
        # up to 30 s for the lock instead of failing after pysqlite's default 5 s.
        options["connect_args"] = {"timeout": 30}
        # A file does not drop connections: no "SELECT 1" before every transaction.
        options["pool_pre_ping"] = False
        return options
    # Each worker process has its own pool, and holds a connection per request in progress.
    # A connection kept for each of its threads, so no request pays for a new one (a thread
    # beyond pool_size would open and close one per request); as many again may be opened
    # briefly if ever needed. SQLAlchemy's default (5 kept, 10 more) would let 8 workers open
    # 120 connections, over PostgreSQL's default max_connections of 100; this is 2 per worker
    # with sync workers. A request that finds the pool exhausted fails after 10 s, well before
    # gunicorn's 30 s worker timeout kills the worker.
    options.update(pool_size=threads, max_overflow=threads, pool_timeout=10)
    # A database host that drops packets instead of refusing would otherwise hold a new
    # connection (and /healthz, and the request behind it) until the operating system gives up,
    # minutes later: the load balancer should hear "unavailable" within seconds.
    options["connect_args"] = {"connect_timeout": CONNECT_TIMEOUT_SECONDS}
    return options


def defaults(instance_path: str) -> dict:
    """Static defaults plus what the environment says (secret, database, mail)."""
    return {
        **STATIC_DEFAULTS,
        # Fingerprinted and compressed copies of the static files (monitor/static_files.py).
        "STATIC_CACHE_DIR": os.path.join(instance_path, "static-cache"),
        # None when unset: a real install refuses to start without it (monitor/startup_checks.py).
        "SECRET_KEY": os.environ.get("SECRET_KEY") or None,
        "SECRET_KEY_FALLBACKS": secret_key_fallbacks_from_env(),
        "SQLALCHEMY_DATABASE_URI": (url := database_url_from_env(instance_path)),
        # WEB_THREADS: gunicorn's --threads, when run with gthread workers (the pool follows it).
        "SQLALCHEMY_ENGINE_OPTIONS": engine_options(url, threads=int(os.environ.get("WEB_THREADS", "1") or 1)),
        # Mail: SMTP when MAIL_SERVER is set, else .eml files under instance/mail/.
        "MAIL_SERVER": os.environ.get("MAIL_SERVER") or None,
        "MAIL_PORT": int(os.environ.get("MAIL_PORT", "25")),
        "MAIL_USE_TLS": _env_bool("MAIL_USE_TLS"),
        "MAIL_USE_SSL": _env_bool("MAIL_USE_SSL"),
        "MAIL_USERNAME": os.environ.get("MAIL_USERNAME") or None,
        "MAIL_PASSWORD": os.environ.get("MAIL_PASSWORD") or None,
        "MAIL_DEFAULT_SENDER": os.environ.get("MAIL_DEFAULT_SENDER", "Clinic <no-reply@localhost>"),
        "MAIL_FILE_DIR": os.path.join(instance_path, "mail"),
        # Links in emails must be absolute: the public https:// address (monitor/startup_checks.py).
        "BASE_URL": os.environ.get("BASE_URL") or None,
        # Secure (and so __Host- prefixed) by default; SESSION_COOKIE_SECURE=0 only for local http.
        "SESSION_COOKIE_SECURE": _env_bool("SESSION_COOKIE_SECURE", True),
        # Rate-limit counts shared by all workers: Redis when set, else the database.
        "RATELIMIT_REDIS_URL": os.environ.get("RATELIMIT_REDIS_URL") or None,
        "TRUSTED_PROXY_COUNT": int(os.environ.get("TRUSTED_PROXY_COUNT", "0") or 0),
        # A developer's machine: lifts the checks of monitor/startup_checks.py, with a warning.
        "MONITOR_DEV": _env_bool("MONITOR_DEV"),
        "LOG_FORMAT": log_format_from_env(),
    }


def defaults_for_tests(instance_path: str) -> dict:
    """Static defaults without reading the environment or touching instance/."""
    return {
        **STATIC_DEFAULTS,
        # Content-addressed, so every test run may share it (and compress plotly only once).
        "STATIC_CACHE_DIR": os.path.join(tempfile.gettempdir(), "monitor-static-cache"),
        "SQLALCHEMY_ENGINE_OPTIONS": {"hide_parameters": True},
        "SECRET_KEY": "test-secret-key-not-for-production",
        "SECRET_KEY_FALLBACKS": [],
        "MAIL_SERVER": None,
        "MAIL_PORT": 25,
        "MAIL_USE_TLS": False,
        "MAIL_USE_SSL": False,
        "MAIL_USERNAME": None,
        "MAIL_PASSWORD": None,
        "MAIL_DEFAULT_SENDER": "Clinic <no-reply@clinic.test>",
        "BASE_URL": "http://localhost",
        "MONITOR_DEV": False,
        "LOG_FORMAT": "text",
    }
