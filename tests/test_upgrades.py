"""A clinic's database from the first release, upgraded to this one: every row it held is still
there with its values, later migrations' new columns hold their defaults, and the app serves it.

The rows are written with SQL for the first migration's tables (0001_initial_schema.py), not
through the models or services, which describe the latest schema: they are what the first
release stored. SQLite, and PostgreSQL when TEST_DATABASE_URL is set."""
import os
from datetime import date, datetime, time, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa
from flask_migrate import downgrade, upgrade

from monitor.extensions import db
from monitor.models import User
from tests.factories import PASSWORD_HASH, login

FIRST = "0001_initial"


@pytest.fixture
def db_url(db_url, tmp_path):
    """PostgreSQL: the suite's database, emptied (the test takes it down to nothing). SQLite: a
    new, empty file rather than the migrated copy."""
    if os.environ.get("TEST_DATABASE_URL"):
        return db_url
    return f"sqlite:///{tmp_path / 'first-release.db'}"


@pytest.fixture
def at_first_migration(app):
    downgrade(revision="base")  # a no-op on the new SQLite file
    upgrade(revision=FIRST)
    try:
        yield
    finally:
        upgrade()  # PostgreSQL: the rest of the suite expects the latest schema


def _utc(*args) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


# The first migration's tables, with the columns it created (no later column).
T = sa.table
C = sa.column
TZ = sa.DateTime(timezone=True)
CHECKIN_COLUMNS = [C(f"q{i}", sa.SmallInteger) for i in range(1, 8)] + [
    C("total", sa.SmallInteger), C("se_dissociation", sa.SmallInteger), C("se_dizziness", sa.SmallInteger),
    C("se_nausea", sa.SmallInteger), C("se_headache", sa.SmallInteger), C("se_drowsiness", sa.SmallInteger),
    C("se_bladder", sa.SmallInteger), C("se_vision", sa.SmallInteger), C("note", sa.Text),
    C("submitted_at", TZ), C("late_entry", sa.Boolean), C("source", sa.String)]
TREATMENT_VALUES = [C("administered_at", TZ), C("route", sa.String), C("dose_mg", sa.Numeric(7, 2)),
                    C("bp_systolic_before", sa.SmallInteger), C("bp_diastolic_before", sa.SmallInteger),
                    C("bp_systolic_after", sa.SmallInteger), C("bp_diastolic_after", sa.SmallInteger),
                    C("dissociation_score", sa.SmallInteger), C("notes", sa.Text)]
TABLES = {
    "clinic": T("clinic", C("id", sa.Integer), C("name", sa.String), C("timezone", sa.String), C("phone", sa.String),
                C("crisis_text", sa.Text), C("mcid", sa.Integer), C("wane_fraction", sa.Numeric(4, 3)),
                C("confirm_days", sa.Integer), C("lapse_days", sa.Integer)),
    "users": T("users", C("id", sa.Integer), C("email", sa.String), C("password_hash", sa.String),
               C("role", sa.String), C("first_name", sa.String), C("last_name", sa.String),
               C("timezone", sa.String), C("reminder_time", sa.Time), C("email_opt_out", sa.Boolean),
               C("status", sa.String), C("active", sa.Boolean), C("created_at", TZ),
               C("session_epoch", sa.Integer)),
    "care_team": T("care_team", C("provider_id", sa.Integer), C("patient_id", sa.Integer)),
    "account_tokens": T("account_tokens", C("id", sa.Integer), C("user_id", sa.Integer), C("purpose", sa.String),
                        C("token_hash", sa.String), C("created_at", TZ), C("expires_at", TZ), C("used_at", TZ)),
    "audit_events": T("audit_events", C("id", sa.Integer), C("at", TZ), C("actor_id", sa.Integer),
                      C("action", sa.String), C("target_type", sa.String), C("target_id", sa.Integer),
                      C("ip", sa.String), C("detail", sa.String)),
    "checkins": T("checkins", C("id", sa.Integer), C("patient_id", sa.Integer), C("submission_key", sa.String),
                  C("local_date", sa.Date), *CHECKIN_COLUMNS),
    "checkin_revisions": T("checkin_revisions", C("id", sa.Integer), C("checkin_id", sa.Integer),
                           C("replaced_at", TZ), C("local_date", sa.Date), *[C(c.name, c.type) for c in CHECKIN_COLUMNS]),
    "treatments": T("treatments", C("id", sa.Integer), C("patient_id", sa.Integer), C("recorded_by_id", sa.Integer),
                    C("created_at", TZ), C("updated_at", TZ), C("submission_key", sa.String), C("source", sa.String),
                    *TREATMENT_VALUES),
    "treatment_revisions": T("treatment_revisions", C("id", sa.Integer), C("treatment_id", sa.Integer),
                             C("replaced_at", TZ), C("replaced_by_id", sa.Integer),
                             *[C(c.name, c.type) for c in TREATMENT_VALUES]),
}
KEYS = {"care_team": ("provider_id", "patient_id")}


def _checkin(id_, patient_id, on: date, answers, *, se=None, note=None, late=False, source="web", key=None):
    se = se or {}
    return {"id": id_, "patient_id": patient_id, "submission_key": key, "local_date": on,
            **{f"q{i}": a for i, a in enumerate(answers, 1)}, "total": sum(answers),
            **{f"se_{n}": se.get(n) for n in ("dissociation", "dizziness", "nausea", "headache", "drowsiness",
                                               "bladder", "vision")},
            "note": note, "submitted_at": _utc(on.year, on.month, on.day, 14, 5) if not late
            else _utc(on.year, on.month, on.day + 1, 9, 30), "late_entry": late, "source": source}


def first_release_rows() -> dict[str, list[dict]]:
    """A small clinic as the first release kept it: staff, patients (one paused abroad, one
    invited only), three weeks of check-ins around two ketamine sessions, an edited check-in
    and an edited session, an invitation and the audit trail."""
    created = _utc(2026, 10, 1, 13, 0)
    rows = {
        "clinic": [{"id": 1, "name": "Lakeside Ketamine Clinic", "timezone": "America/New_York",
                    "phone": "+1 555 0100", "crisis_text": "Call or text 988 (Suicide & Crisis Lifeline).",
                    "mcid": 4, "wane_fraction": Decimal("0.500"), "confirm_days": 2, "lapse_days": 3}],
        "users": [
            {"id": 1, "email": "admin@lakeside.test", "password_hash": PASSWORD_HASH, "role": "admin",
             "first_name": "Ada", "last_name": "Admin", "timezone": "America/New_York",
             "reminder_time": time(19, 0), "email_opt_out": False, "status": "active", "active": True,
             "created_at": created, "session_epoch": 0},
            {"id": 2, "email": "dr.reyes@lakeside.test", "password_hash": PASSWORD_HASH, "role": "provider",
             "first_name": "Marta", "last_name": "Reyes", "timezone": "America/New_York",
             "reminder_time": time(19, 0), "email_opt_out": False, "status": "active", "active": True,
             "created_at": created, "session_epoch": 2},
            {"id": 3, "email": "jordan@example.test", "password_hash": PASSWORD_HASH, "role": "patient",
             "first_name": "Jordan", "last_name": "Ó Briain", "timezone": "America/New_York",
             "reminder_time": time(20, 30), "email_opt_out": False, "status": "active", "active": True,
             "created_at": created, "session_epoch": 1},
            {"id": 4, "email": "sam@example.test", "password_hash": PASSWORD_HASH, "role": "patient",
             "first_name": "Sam", "last_name": "Okafor", "timezone": "Europe/London",
             "reminder_time": time(8, 15), "email_opt_out": True, "status": "paused", "active": True,
             "created_at": created, "session_epoch": 0},
            {"id": 5, "email": "invited@example.test", "password_hash": None, "role": "patient",
             "first_name": "Riley", "last_name": "", "timezone": "America/Chicago",
             "reminder_time": time(19, 0), "email_opt_out": False, "status": "active", "active": True,
             "created_at": _utc(2026, 11, 25, 16, 0), "session_epoch": 0},
        ],
        "care_team": [{"provider_id": 2, "patient_id": 3}, {"provider_id": 2, "patient_id": 4},
                      {"provider_id": 2, "patient_id": 5}],
        "account_tokens": [{"id": 1, "user_id": 5, "purpose": "invitation", "token_hash": "ab" * 32,
                            "created_at": _utc(2026, 11, 25, 16, 0), "expires_at": _utc(2026, 11, 28, 16, 0),
                            "used_at": None},
                           {"id": 2, "user_id": 3, "purpose": "reset", "token_hash": "cd" * 32,
                            "created_at": _utc(2026, 11, 2, 9, 0), "expires_at": _utc(2026, 11, 2, 10, 0),
                            "used_at": _utc(2026, 11, 2, 9, 12)}],
        "treatments": [
            {"id": 1, "patient_id": 3, "recorded_by_id": 2, "created_at": _utc(2026, 11, 9, 17, 0),
             "updated_at": _utc(2026, 11, 9, 18, 0), "submission_key": "t-key-1", "source": "web",
             "administered_at": _utc(2026, 11, 9, 15, 30), "route": "intravenous", "dose_mg": Decimal("35.00"),
             "bp_systolic_before": 128, "bp_diastolic_before": 82, "bp_systolic_after": 141,
             "bp_diastolic_after": 88, "dissociation_score": 2, "notes": "Tolerated well; mild nausea."},
            {"id": 2, "patient_id": 3, "recorded_by_id": None, "created_at": _utc(2026, 11, 17, 12, 0),
             "updated_at": _utc(2026, 11, 17, 12, 0), "submission_key": None, "source": "import",
             "administered_at": _utc(2026, 11, 16, 15, 0), "route": "intranasal", "dose_mg": Decimal("56.25"),
             "bp_systolic_before": None, "bp_diastolic_before": None, "bp_systolic_after": None,
             "bp_diastolic_after": None, "dissociation_score": None, "notes": None},
        ],
        "treatment_revisions": [
            {"id": 1, "treatment_id": 1, "replaced_at": _utc(2026, 11, 9, 18, 0), "replaced_by_id": 2,
             "administered_at": _utc(2026, 11, 9, 15, 0), "route": "intravenous", "dose_mg": Decimal("30.00"),
             "bp_systolic_before": 128, "bp_diastolic_before": 82, "bp_systolic_after": None,
             "bp_diastolic_after": None, "dissociation_score": None, "notes": None}],
    }
    totals = [14, 15, 13, 14, 9, 7, 6, 8, 10, 12, 13, 14, 11, 6, 5, 7, 9, 11, 12, 13, 12]
    checkins, id_ = [], 0
    for offset, total in enumerate(totals):  # 5 November to 25 November
        on = date(2026, 11, 5 + offset)
        answers = [min(3, max(0, total - 3 * i)) for i in range(7)]
        answers[-1] += total - sum(answers)
        id_ += 1
        late = on == date(2026, 11, 12)
        checkins.append(_checkin(id_, 3, on, answers, late=late, key=f"c-key-{id_}",
                                 se={"nausea": 1, "dissociation": 2} if on == date(2026, 11, 9) else None,
                                 note="Slept badly — headache after the drive ☔" if on == date(2026, 11, 10) else None))
    checkins.append(_checkin(id_ + 1, 4, date(2026, 11, 20), [3, 3, 2, 2, 1, 1, 0], source="import"))
    rows["checkins"] = checkins
    first = checkins[4]
    rows["checkin_revisions"] = [{"id": 1, "checkin_id": first["id"], "replaced_at": _utc(2026, 11, 9, 20, 0),
                                  **{k: v for k, v in _checkin(0, 3, first["local_date"], [3, 3, 2, 1, 1, 1, 1],
                                                               note="first answers").items()
                                     if k not in ("id", "patient_id", "submission_key")}}]
    rows["audit_events"] = [
        {"id": 1, "at": _utc(2026, 11, 1, 13, 0), "actor_id": 2, "action": "login", "target_type": None,
         "target_id": None, "ip": "203.0.113.7", "detail": None},
        {"id": 2, "at": _utc(2026, 11, 9, 17, 0), "actor_id": 2, "action": "treatment.created",
         "target_type": "patient", "target_id": 3, "ip": "203.0.113.7", "detail": "intravenous"},
        {"id": 3, "at": _utc(2026, 11, 10, 8, 0), "actor_id": None, "action": "login.failed",
         "target_type": None, "target_id": None, "ip": "198.51.100.2", "detail": "unknown email"},
        {"id": 4, "at": _utc(2026, 11, 20, 12, 0), "actor_id": 1, "action": "patient.viewed",
         "target_type": "patient", "target_id": 4, "ip": None, "detail": None},
    ]
    return rows


def _write(rows: dict[str, list[dict]]) -> None:
    with db.engine.begin() as conn:
        for name, table_rows in rows.items():  # in an order the foreign keys accept
            conn.execute(sa.insert(TABLES[name]), table_rows)
            if conn.dialect.name == "postgresql" and "id" in TABLES[name].c:
                # The ids are given, as the first release's own inserts had taken them: its
                # sequences had moved past them too.
                conn.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                     f"(SELECT max(id) FROM {name}))"))


def _normal(value):
    """What a value means, whichever database returned it: SQLite keeps datetimes without
    their zone (they are UTC), PostgreSQL returns them aware."""
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None) if value.tzinfo else value
    return value


def _read(name: str) -> list[dict]:
    table = TABLES[name]
    order = [table.c[k] for k in KEYS.get(name, ("id",))]
    with db.engine.connect() as conn:
        return [{k: _normal(v) for k, v in row._mapping.items()}
                for row in conn.execute(sa.select(table).order_by(*order))]


def _expected(rows: list[dict], name: str) -> list[dict]:
    keys = KEYS.get(name, ("id",))
    return sorted(({k: _normal(v) for k, v in row.items()} for row in rows), key=lambda r: [r[k] for k in keys])


def test_every_row_of_the_first_release_survives_the_upgrade_with_its_values(app, at_first_migration):
    rows = first_release_rows()
    _write(rows)
    assert set(rows) == set(TABLES)  # every table the first migration made has rows
    upgrade()

    for name, written in rows.items():
        assert _read(name) == _expected(written, name), name


def test_later_migrations_give_the_old_rows_their_defaults(app, at_first_migration):
    _write(first_release_rows())
    upgrade()

    with db.engine.connect() as conn:
        windows = conn.execute(sa.text("SELECT baseline_window_start, baseline_window_end, nadir_window_start, "
                                       "nadir_window_end FROM clinic")).one()
        assert tuple(windows) == (-3, -1, 1, 3)  # 0002: SPEC 4's windows
        users = conn.execute(sa.text("SELECT totp_secret, totp_enabled_at, totp_last_step, previous_timezone, "
                                     "timezone_changed_at FROM users")).all()
        assert {tuple(u) for u in users} == {(None,) * 5}  # 0004, 0005: no second factor, no move
        for table in ("nudges", "provider_digests", "patient_status_changes", "rate_limit_hits", "recovery_codes",
                      "user_sessions", "patient_analyses", "treatment_results", "outbox", "web_sessions",
                      "audit_event_patients"):
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 0, table
    # 0004's append-only audit log covers the old events too.
    with pytest.raises(sa.exc.DatabaseError), db.engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM audit_events WHERE id = 1"))


def test_the_upgraded_clinic_is_served(app, client, at_first_migration):
    _write(first_release_rows())
    upgrade()

    provider = db.session.get(User, 2)
    login(client, provider)
    page = client.get("/patients")
    assert page.status_code == 200 and "Ó Briain" in page.text and "Okafor" in page.text
    chart = client.get("/patients/3")
    assert chart.status_code == 200 and "Jordan" in chart.text
    assert "56.25" in chart.text and "Tolerated well" in chart.text  # the sessions, with their notes
    client.post("/logout")
    login(client, db.session.get(User, 3))
    home = client.get("/me")
    assert home.status_code == 200 and "Jordan" in home.text
