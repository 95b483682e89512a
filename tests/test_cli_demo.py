"""`flask --app monitor demo`: the README's one-line start."""
from sqlalchemy import func, select

from monitor.extensions import db
from monitor.models import User


def test_demo_seeds_an_empty_database_once_and_serves_it(runner, monkeypatch):
    served = []
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setattr("monitor.cli.run_simple", lambda host, port, app, **kw: served.append(
        (host, port, app.config["SESSION_COOKIE_SECURE"], app.config["TWO_FACTOR_REQUIRED_FOR_STAFF"])))
    first = runner.invoke(args=["demo"])
    assert first.exit_code == 0, first.output
    assert "demo-clinic-password" in first.output
    patients = db.session.scalar(select(func.count()).select_from(User).where(User.role == "patient"))
    assert patients >= 12
    second = runner.invoke(args=["demo"])
    assert second.exit_code == 0
    assert "already has accounts" in second.output
    assert db.session.scalar(select(func.count()).select_from(User).where(User.role == "patient")) == patients
    # Plain http on 127.0.0.1 and made-up patients: insecure cookies and no second factor, for
    # the demo's own process only.
    assert served == [("127.0.0.1", 5000, False, False)] * 2


def test_demo_refuses_a_configured_database(runner, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://somewhere/real_clinic")
    monkeypatch.setattr("monitor.cli.run_simple", lambda *a, **kw: (_ for _ in ()).throw(AssertionError("served")))
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 1
    assert "unset DATABASE_URL" in result.output
    assert db.session.scalar(select(User.id)) is None
