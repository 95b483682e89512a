"""Monitor: daily anxiety check-ins and the durability of ketamine treatment sessions."""
import os

from flask import Flask, redirect, render_template, url_for
from flask_login import current_user

from . import audit, config, logs, paging, private_files, schema_version, serving, sessions, startup_checks, write_version
from .extensions import csrf, db, login_manager, migrate

# Inside the package, so an installed wheel carries them (pyproject's package-data).
MIGRATIONS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "migrations")


def create_app(test_config: dict | None = None, instance_path: str | None = None) -> Flask:
    """The app; `instance_path` moves the instance folder (tests), which is private (0700)."""
    app = Flask(__name__, instance_relative_config=True, instance_path=instance_path)
    private_files.private_folder(app.instance_path)
    if test_config is None:
        app.config.from_mapping(config.defaults(app.instance_path))
        app.config.from_pyfile("config.py", silent=True)
    else:
        # Tests never read or write the developer's instance/ secret or database.
        app.config.from_mapping(config.defaults_for_tests(app.instance_path))
        app.config.from_mapping(test_config)
    logs.init_app(app)  # first: whatever follows may log (monitor/logs.py)
    if test_config is None:
        # Before anything else runs: refuse an unsafe real install, or defer the refusal to the
        # command chosen so that the demo still starts (monitor/startup_checks.py).
        startup_checks.check_at_start(app)
    # Before anything connects: SQLite would create the file 0644, and its -wal and -shm alike.
    private_files.private_sqlite_file(app.config["SQLALCHEMY_DATABASE_URI"])
    register_extensions(app)
    register_blueprints(app)
    register_error_handlers(app)
    register_template_context(app)
    register_cli(app)
    register_security(app)
    register_static_files(app)
    if test_config is None:
        # Whatever an earlier release or a checkout left under instance/ with wider modes.
        private_files.make_tree_private(app.instance_path)
    serving.init_app(app)  # no token of an account link in the logs
    # Last, so it is the outermost layer: nothing is served from a database at another schema.
    schema_version.init_app(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    with app.app_context():
        write_version.watch(db.engine)  # before anything connects: every write moves the version
    migrate.init_app(app, db, directory=MIGRATIONS_DIR, render_as_batch=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    # Not Flask-Login's "strong" protection: it binds the cookie to the network address, and a
    # phone changes address whenever it moves between Wi-Fi and mobile data, so patients would be
    # signed out over and over. Sessions are kept and ended on the server (sessions.py) instead.
    login_manager.session_protection = None
    sessions.init_app(app)  # also Flask-Login's user loader: the user and their session row in one query
    audit.init_app(app)


def register_blueprints(app: Flask) -> None:
    from .admin import bp as admin_bp
    from .auth import bp as auth_bp
    from .health import bp as health_bp
    from .interop import bp as interop_bp
    from .patient import bp as patient_bp
    from .provider import bp as provider_bp
    from .shell import bp as shell_bp
    from .unsubscribe import bp as unsubscribe_bp

    app.register_blueprint(admin_bp)
    app.register_blueprint(auth_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(interop_bp)
    app.register_blueprint(patient_bp)
    app.register_blueprint(provider_bp)
    app.register_blueprint(shell_bp)
    app.register_blueprint(unsubscribe_bp)

    @app.get("/")
    def index():
        if not current_user.is_authenticated:
            return redirect(url_for("auth.login"))
        if current_user.is_patient:
            return redirect(url_for("patient.home"))
        return redirect(url_for("provider.dashboard"))


def register_error_handlers(app: Flask) -> None:
    def page(code: int, title: str, message: str):
        return render_template("errors/error.html", title=title, message=message), code

    app.register_error_handler(400, lambda e: page(400, "Bad request", "The request could not be understood."))
    app.register_error_handler(404, lambda e: page(404, "Not found", "There is nothing here."))
    app.register_error_handler(405, lambda e: page(405, "Not allowed", "That action is not available here."))
    app.register_error_handler(413, lambda e: page(413, "Too large", "That upload is too large."))
    # A page number that is no page (paging.py): its own words, written there, hold no patient data.
    app.register_error_handler(paging.NoSuchPage, lambda e: page(e.status, "No such page", str(e)))

    @app.errorhandler(500)
    def server_error(e):
        db.session.rollback()
        return page(500, "Something went wrong", "The error has been logged. Nothing was saved.")


def register_template_context(app: Flask) -> None:
    from .charts import PLOTLY_JS, static_chart
    from .clinic import get_clinic
    from .crisis import with_phone_links
    from .wording import plural

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.filters["phone_links"] = with_phone_links
    app.jinja_env.globals["plotly_js"] = PLOTLY_JS
    app.jinja_env.globals["static_chart"] = static_chart
    # Every count in words: {{ n|plural("day") }} is "1 day" or "2 days" (monitor/wording.py).
    app.jinja_env.filters["plural"] = app.jinja_env.globals["plural"] = plural

    @app.context_processor
    def inject_clinic():
        return {"clinic": get_clinic()}


def register_security(app: Flask) -> None:
    """Headers, the CSRF re-submit page, proxies, rate limits (monitor/security.py, ratelimit.py)."""
    from . import ratelimit, security

    security.init_app(app)
    ratelimit.init_app(app)


def register_static_files(app: Flask) -> None:
    """Fingerprinted, compressed, cached for a year (monitor/static_files.py)."""
    from . import static_files

    static_files.init_app(app)


def register_cli(app: Flask) -> None:
    from . import cli

    cli.init_app(app)
