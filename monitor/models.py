"""The tables. Instants are stored as UTC; check-in dates as the patient's local date."""
from __future__ import annotations

import enum
from datetime import date, datetime, time, timezone
from decimal import Decimal

from flask_login import UserMixin
from sqlalchemy import (
    BigInteger,
    Boolean,
    Index,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .extensions import db
from .instruments import DEFAULT_CRISIS_TEXT, ITEM_CODES, SEVERE_SIDE_EFFECT, SIDE_EFFECT_KEYS
from .timeutil import utcnow


class UTCDateTime(TypeDecorator):
    """Aware UTC datetimes in Python, whatever the database keeps (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Role(str, enum.Enum):
    PATIENT = "patient"
    PROVIDER = "provider"
    ADMIN = "admin"


class PatientStatus(str, enum.Enum):
    ACTIVE = "active"
    PAUSED = "paused"
    DISCHARGED = "discharged"


class Clinic(db.Model):
    """The clinic's settings (one row). Durability thresholds are SPEC 4's defaults."""

    __tablename__ = "clinic"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), default="Our clinic")
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    phone: Mapped[str] = mapped_column(String(40), default="")
    crisis_text: Mapped[str] = mapped_column(Text, default=DEFAULT_CRISIS_TEXT)
    mcid: Mapped[int] = mapped_column(Integer, default=4)
    wane_fraction: Mapped[Decimal] = mapped_column(Numeric(4, 3), default=Decimal("0.5"))
    confirm_days: Mapped[int] = mapped_column(Integer, default=2)
    # Day windows relative to a session's day 0 (SPEC 4): baseline -3..-1, nadir 1..3.
    baseline_window_start: Mapped[int] = mapped_column(Integer, default=-3, server_default="-3")
    baseline_window_end: Mapped[int] = mapped_column(Integer, default=-1, server_default="-1")
    nadir_window_start: Mapped[int] = mapped_column(Integer, default=1, server_default="1")
    nadir_window_end: Mapped[int] = mapped_column(Integer, default=3, server_default="3")
    lapse_days: Mapped[int] = mapped_column(Integer, default=3)


care_team = db.Table(
    "care_team",
    db.Column("provider_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    db.Column("patient_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
)


def display_name(first_name: str | None, last_name: str | None, email: str) -> str:
    """A person's name as pages show it: first and last, or the email address without a name."""
    name = f"{first_name or ''} {last_name or ''}".strip()
    return name or email


class User(UserMixin, db.Model):
    """Every account. Patients carry their schedule fields; staff leave them at defaults."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role in ('patient', 'provider', 'admin')", name="role"),
        CheckConstraint("status in ('active', 'paused', 'discharged')", name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    first_name: Mapped[str] = mapped_column(String(80), default="")
    last_name: Mapped[str] = mapped_column(String(80), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="America/New_York")
    # The zone before the latest change and when it changed: a change that jumps past midnight
    # (moving east late in the day) would otherwise leave that date without its reminder
    # (schedule.carried_date).
    previous_timezone: Mapped[str | None] = mapped_column(String(64))
    timezone_changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminder_time: Mapped[time] = mapped_column(Time, default=time(19, 0))
    email_opt_out: Mapped[bool] = mapped_column(Boolean, default=False)
    # The local date on which the patient chose "later" for a due standard GAD-7 (SPEC 2.2):
    # it is not offered again that day, and is still due the next.
    gad7_deferred_on: Mapped[date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), default=PatientStatus.ACTIVE.value)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped on password change so that Flask-Login drops every other session (monitor/sessions.py
    # also ends their server-side records).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Second factor (TOTP, RFC 6238): the base32 secret, encrypted (twofactor.store_secret: a
    # Fernet token of 140 characters), when it was confirmed, and the last time step accepted,
    # so that a code cannot be replayed within its 30-second window.
    totp_secret: Mapped[str | None] = mapped_column(String(200))
    totp_enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(Integer)

    providers: Mapped[list[User]] = relationship(
        secondary=care_team,
        primaryjoin=lambda: User.id == care_team.c.patient_id,
        secondaryjoin=lambda: User.id == care_team.c.provider_id,
        back_populates="panel",
        order_by=lambda: User.last_name,
    )
    panel: Mapped[list[User]] = relationship(
        secondary=care_team,
        primaryjoin=lambda: User.id == care_team.c.provider_id,
        secondaryjoin=lambda: User.id == care_team.c.patient_id,
        back_populates="providers",
        order_by=lambda: User.last_name,
    )

    def change_timezone(self, zone: str, at: datetime) -> None:
        """Move the patient to another zone, remembering the one they leave (see the columns)."""
        if zone != self.timezone:
            self.previous_timezone, self.timezone_changed_at, self.timezone = self.timezone, at, zone

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.active

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    @property
    def is_patient(self) -> bool:
        return self.role == Role.PATIENT.value

    @property
    def is_staff(self) -> bool:
        return self.role in (Role.PROVIDER.value, Role.ADMIN.value)

    @property
    def is_admin(self) -> bool:
        return self.role == Role.ADMIN.value

    @property
    def display_name(self) -> str:
        return display_name(self.first_name, self.last_name, self.email)

    @property
    def has_password(self) -> bool:
        return bool(self.password_hash)


class SevenItems:
    """The seven GAD-7 problems' answers (local codes q1..q7, each 0-3) and their total, on a
    day: shared by the daily check-in and the standard GAD-7, which ask about the same seven."""

    local_date: Mapped[date] = mapped_column(Date)
    q1: Mapped[int] = mapped_column(SmallInteger)
    q2: Mapped[int] = mapped_column(SmallInteger)
    q3: Mapped[int] = mapped_column(SmallInteger)
    q4: Mapped[int] = mapped_column(SmallInteger)
    q5: Mapped[int] = mapped_column(SmallInteger)
    q6: Mapped[int] = mapped_column(SmallInteger)
    q7: Mapped[int] = mapped_column(SmallInteger)
    total: Mapped[int] = mapped_column(SmallInteger)

    def answers(self) -> dict[str, int]:
        return {code: getattr(self, code) for code in ITEM_CODES}


class CheckInAnswers(SevenItems):
    """Columns shared by a check-in and the history of its earlier versions."""

    se_dissociation: Mapped[int | None] = mapped_column(SmallInteger)
    se_dizziness: Mapped[int | None] = mapped_column(SmallInteger)
    se_nausea: Mapped[int | None] = mapped_column(SmallInteger)
    se_headache: Mapped[int | None] = mapped_column(SmallInteger)
    se_drowsiness: Mapped[int | None] = mapped_column(SmallInteger)
    se_bladder: Mapped[int | None] = mapped_column(SmallInteger)
    se_vision: Mapped[int | None] = mapped_column(SmallInteger)
    note: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # A check-in entered after its own local date (backfill or import).
    late_entry: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(16), default="web")

    def side_effects(self) -> dict[str, int | None]:
        return {key: getattr(self, f"se_{key}") for key in SIDE_EFFECT_KEYS}

    @property
    def has_severe_side_effect(self) -> bool:
        return any(v == SEVERE_SIDE_EFFECT for v in self.side_effects().values())


def _range_checks() -> tuple:
    checks = [CheckConstraint(f"{c} between 0 and 3", name=f"{c}_range") for c in ITEM_CODES]
    checks += [
        CheckConstraint(f"se_{k} is null or se_{k} between 0 and 3", name=f"se_{k}_range")
        for k in SIDE_EFFECT_KEYS
    ]
    checks.append(CheckConstraint("total between 0 and 21", name="total_range"))
    return tuple(checks)


# "Some side effect reported as severe", as SQL with the code written in rather than bound:
# the databases use the partial index below only for a query with this very condition (the
# triage dashboard's "severe side effect" flag, which would otherwise read every check-in of
# its window twice over).
SEVERE_SIDE_EFFECT_SQL = " OR ".join(f"se_{key} = {SEVERE_SIDE_EFFECT}" for key in SIDE_EFFECT_KEYS)


class CheckIn(CheckInAnswers, db.Model):
    """One daily check-in per patient per local date; a resubmission replaces it."""

    __tablename__ = "checkins"
    # The unique (patient, date) index serves every read by patient, cascades included. The
    # (date, patient) one serves the clinic report's month of everyone's check-ins, which
    # PostgreSQL otherwise reads by scanning the whole table: a cost that grew with the
    # clinic's history rather than with the month (migration 0018).
    __table_args__ = (UniqueConstraint("patient_id", "local_date"), *_range_checks(),
                      Index("ix_checkins_local_date", "local_date", "patient_id"),
                      Index("ix_checkins_severe", "patient_id", "local_date",
                            sqlite_where=text(SEVERE_SIDE_EFFECT_SQL), postgresql_where=text(SEVERE_SIDE_EFFECT_SQL)))
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The form's one-time key: a double-tapped submit carries the same key and is stored once.
    submission_key: Mapped[str | None] = mapped_column(String(64))
    revisions: Mapped[list[CheckInRevision]] = relationship(
        back_populates="checkin", order_by=lambda: CheckInRevision.replaced_at,
        cascade="all, delete-orphan",
    )


class CheckInRevision(CheckInAnswers, db.Model):
    """An earlier version of a check-in, kept when the patient resubmitted that date."""

    __tablename__ = "checkin_revisions"
    __table_args__ = _range_checks()
    id: Mapped[int] = mapped_column(primary_key=True)
    checkin_id: Mapped[int] = mapped_column(ForeignKey("checkins.id", ondelete="CASCADE"), index=True)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # The key this version was sent with: the same key sent again later (a phone's queue whose
    # answer was lost) is then a repeat of this version, never a replacement of the newer one.
    submission_key: Mapped[str | None] = mapped_column(String(64))
    checkin: Mapped[CheckIn] = relationship(back_populates="revisions")


class StandardGad7(SevenItems, db.Model):
    """One standard GAD-7 (SPEC 2.2), at most one per patient per local date. Kept apart from
    the daily check-ins: it asks about two weeks, is LOINC-coded, and never feeds the
    durability analysis. Answers use the local codes q1..q7 (instruments.GAD7_ITEM_LOINC maps
    them to LOINC); `difficulty` is 0-3 (instruments.GAD7_DIFFICULTY_OPTIONS), not in the total."""

    __tablename__ = "standard_gad7s"
    __table_args__ = (
        UniqueConstraint("patient_id", "local_date"),
        *(CheckConstraint(f"{c} between 0 and 3", name=f"gad7_{c}_range") for c in ITEM_CODES),
        CheckConstraint("total between 0 and 21", name="gad7_total_range"),
        CheckConstraint("difficulty is null or difficulty between 0 and 3", name="gad7_difficulty_range"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    difficulty: Mapped[int | None] = mapped_column(SmallInteger)
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    source: Mapped[str] = mapped_column(String(16), default="web")  # web or import


class StudyId(db.Model):
    """A patient's pseudonym in the research export (monitor/research.py): random, made on the
    patient's first research export and kept, so that every export of this install names the
    patient the same way while nothing about the patient (id, email, enrolment order) can be
    worked out from it."""

    __tablename__ = "study_ids"
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    study_id: Mapped[str] = mapped_column(String(32), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TreatmentFields:
    administered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    route: Mapped[str] = mapped_column(String(16))
    dose_mg: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    bp_systolic_before: Mapped[int | None] = mapped_column(SmallInteger)
    bp_diastolic_before: Mapped[int | None] = mapped_column(SmallInteger)
    bp_systolic_after: Mapped[int | None] = mapped_column(SmallInteger)
    bp_diastolic_after: Mapped[int | None] = mapped_column(SmallInteger)
    dissociation_score: Mapped[int | None] = mapped_column(SmallInteger)
    notes: Mapped[str | None] = mapped_column(Text)


class Treatment(TreatmentFields, db.Model):
    """A treatment session (SPEC 3). Named Treatment so that `session` keeps meaning Flask's."""

    __tablename__ = "treatments"
    __table_args__ = (
        CheckConstraint(
            "route in ('lozenge', 'intramuscular', 'intravenous', 'intranasal', 'subcutaneous', 'oral')",
            name="route",
        ),
        CheckConstraint("dose_mg > 0", name="dose_positive"),
        # A patient's sessions in order, and their latest before a date in a few index steps.
        Index("ix_treatments_patient_id_administered_at", "patient_id", "administered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    submission_key: Mapped[str | None] = mapped_column(String(64), unique=True)
    source: Mapped[str] = mapped_column(String(16), default="web")
    revisions: Mapped[list[TreatmentRevision]] = relationship(
        back_populates="treatment", order_by=lambda: TreatmentRevision.replaced_at,
        cascade="all, delete-orphan",
    )


class TreatmentRevision(TreatmentFields, db.Model):
    """The values a treatment session had before an edit, and who edited it."""

    __tablename__ = "treatment_revisions"
    id: Mapped[int] = mapped_column(primary_key=True)
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id", ondelete="CASCADE"), index=True)
    replaced_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    treatment: Mapped[Treatment] = relationship(back_populates="revisions")


class AccountToken(db.Model):
    """Single-use, expiring links (invitation, password reset). Only a hash of the token is kept."""

    __tablename__ = "account_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    user: Mapped[User] = relationship()


class AuditEvent(db.Model):
    """Append-only record of who saw or changed what (SPEC 6). Never updated or deleted by the app."""

    __tablename__ = "audit_events"
    # The viewer's target and patient filters look events up by target instead of reading the log.
    __table_args__ = (Index("ix_audit_events_target", "target_id", "target_type"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), index=True)
    action: Mapped[str] = mapped_column(String(64))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[int | None] = mapped_column(Integer)
    ip: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[str | None] = mapped_column(String(255))
    # The patients a list showed (AuditEventPatient): written with the event, never loaded
    # through here; monitor/admin/audit_log.py reads them for a page of events in one query.
    shown_patients: Mapped[list[AuditEventPatient]] = relationship(lazy="raise")


class PatientStatusChange(db.Model):
    """A patient's move to active, paused or discharged, and who made it (SPEC 5).

    Kept so that the days a patient was paused are never counted as missed once they return:
    a patient's missed days count only from their latest return to "active"."""

    __tablename__ = "patient_status_changes"
    __table_args__ = (CheckConstraint("status in ('active', 'paused', 'discharged')", name="status"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


# The life of an email's record (a nudge, a digest, an outbox message): claimed ("sending"),
# then "sent"; a failed send is "failed" until its next attempt, "abandoned" after the last;
# "skipped" when it was no longer wanted (the day's check-in arrived between the claim and the
# send; a newer invitation replaced a queued one; a reset was asked for an address with no account).
DELIVERY_STATUSES = ("pending", "sending", "sent", "failed", "abandoned", "skipped")
_DELIVERY_STATUS_CHECK = "status in (" + ", ".join(f"'{s}'" for s in DELIVERY_STATUSES) + ")"


class DeliveryState:
    """An email's attempts, claimed with a conditional UPDATE before anything is sent
    (monitor/delivery.py): shared by nudges, digests and the outbox."""

    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An exception class name only (e.g. ConnectionRefusedError): messages can hold addresses.
    last_error: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class DeliveryFields(DeliveryState):
    """Nudges and digests: one record per recipient and local date (monitor.nudges)."""

    local_date: Mapped[date] = mapped_column(Date)


class Nudge(DeliveryFields, db.Model):
    """The one reminder email of a patient's local date (SPEC 5)."""

    __tablename__ = "nudges"
    __table_args__ = (
        UniqueConstraint("patient_id", "local_date"),
        CheckConstraint(_DELIVERY_STATUS_CHECK, name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))


class ProviderDigest(DeliveryFields, db.Model):
    """The one daily digest of a provider; local_date is the clinic's date."""

    __tablename__ = "provider_digests"
    __table_args__ = (
        UniqueConstraint("provider_id", "local_date"),
        CheckConstraint(_DELIVERY_STATUS_CHECK, name="status"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # How many lapsed patients the digest counted: a number, never who.
    patient_count: Mapped[int | None] = mapped_column(Integer)


class RecoveryCode(db.Model):
    """One-time codes for when the authenticator is lost. Only a keyed hash is kept (twofactor.py)."""

    __tablename__ = "recovery_codes"
    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class UserSession(db.Model):
    """A signed-in session, kept on the server so that logout, a password change or a timeout
    ends it for good (the browser's session only carries a token). The id stored is a SHA-256
    of that random token."""

    __tablename__ = "user_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)          # the absolute limit
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remember: Mapped[bool] = mapped_column(Boolean, default=False)   # a patient's own phone
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(64))


class RateLimitHit(db.Model):
    """Attempts counted for rate limits when no Redis is configured (shared by all workers)."""

    __tablename__ = "rate_limit_hits"
    __table_args__ = (Index("ix_rate_limit_hits_key_at", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# --- The durability analysis, stored (monitor/stored_analysis.py keeps it current).

class PatientAnalysisRow(db.Model):
    """A patient's SPEC 4 analysis as last computed, and what it was computed for: the local
    date, the zone and the clinic's settings. It holds until the first date on which time
    alone could change it (`valid_until`), unless a write recomputes it sooner."""

    __tablename__ = "patient_analyses"
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    computed_on: Mapped[date] = mapped_column(Date)
    valid_until: Mapped[date | None] = mapped_column(Date)
    timezone: Mapped[str] = mapped_column(String(64))
    settings_key: Mapped[str] = mapped_column(String(120))
    # A new random token at every write of the row: a check-in prepares its update before it
    # takes SQLite's write lock, and writes it only if the token is still the one it read
    # (stored_analysis.plan_checkin). None on rows stored before migration 0012.
    version: Mapped[str | None] = mapped_column(String(32))
    treatment_baseline: Mapped[float | None] = mapped_column(Float)
    median_duration: Mapped[float | None] = mapped_column(Float)
    responding_treatments: Mapped[int] = mapped_column(Integer)
    # durability.durations() of the responding treatments, "day:1,day:0,...": the clinic's
    # typical duration is the Kaplan-Meier median over every patient's pairs.
    duration_pairs: Mapped[str] = mapped_column(Text, default="")
    pair_count: Mapped[int] = mapped_column(Integer, default=0)  # how many pairs: checks ClinicDurationCount
    # What the clinic report (SPEC 8) adds up across patients: measures.PatientSummary.
    treatments: Mapped[int] = mapped_column(Integer, default=0)
    judged_treatments: Mapped[int] = mapped_column(Integer, default=0)
    waned_by_day_7: Mapped[int] = mapped_column(Integer, default=0)
    third_treatment_mean: Mapped[float | None] = mapped_column(Float)


class ChangeSumRow(db.Model):
    """A patient's change from the reference level on one day since session, summed over their
    sessions (durability.Sums): the report adds these up in SQL across the clinic."""

    __tablename__ = "change_sums"
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    total: Mapped[float] = mapped_column(Float)
    squares: Mapped[float] = mapped_column(Float)


class ClinicDurationCount(db.Model):
    """Every patient's stored duration pairs counted by (day, waned), kept in step with
    PatientAnalysisRow by stored_analysis.refresh(): the clinic's typical duration is a
    Kaplan-Meier median over a few dozen rows instead of every patient's pairs."""

    __tablename__ = "clinic_duration_counts"
    day: Mapped[int] = mapped_column(Integer, primary_key=True)
    waned: Mapped[bool] = mapped_column(Boolean, primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


class TreatmentResultRow(db.Model):
    """One analysed treatment date of a patient (durability.TreatmentResult)."""

    __tablename__ = "treatment_results"
    # The dashboard reads each patient's latest (open) result only: found without the others.
    __table_args__ = (Index("ix_treatment_results_open", "patient_id", sqlite_where=text("interval_end IS NULL"),
                            postgresql_where=text("interval_end IS NULL")),)
    patient_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    treatment_date: Mapped[date] = mapped_column(Date, primary_key=True)
    interval_end: Mapped[date | None] = mapped_column(Date)  # None: the latest, open through today
    baseline: Mapped[float | None] = mapped_column(Float)
    reference: Mapped[float | None] = mapped_column(Float)
    nadir: Mapped[int | None] = mapped_column(Integer)
    nadir_day: Mapped[int | None] = mapped_column(Integer)
    gain: Mapped[float | None] = mapped_column(Float)
    responded: Mapped[bool | None] = mapped_column(Boolean)
    threshold: Mapped[float | None] = mapped_column(Float)
    wane_day: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))
    last_observed_day: Mapped[int | None] = mapped_column(Integer)
    # durability.change_days() as "day:total,...": what the report's change from the reference
    # level reads of this session, kept so that a check-in redoes the patient's sums from these
    # rows instead of a year of check-ins (stored_analysis.refresh_checkin). None on rows
    # stored before migration 0012: the patient's next refresh is a whole one.
    change_totals: Mapped[str | None] = mapped_column(Text)


class OutboxMessage(DeliveryState, db.Model):
    """An email a request produced (an invitation, a password reset), queued in the request's
    own transaction and delivered by the runner (monitor/outbox.py). The message holds a live
    single-use link: it is wiped once the row will never be sent again; the rest is kept."""

    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint(_DELIVERY_STATUS_CHECK, name="status"),
        # What the runner looks for: rows still to be tried.
        Index("ix_outbox_status_next_attempt_at", "status", "next_attempt_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))  # the email template: "invitation", "password_reset"
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    # A password reset is asked for by address, and the runner looks the address up (so that
    # the answer costs the same whether or not it has an account); wiped once looked up.
    requested_address: Mapped[str | None] = mapped_column(String(254))
    # The whole email (RFC 5322 bytes) until it is sent, abandoned or skipped.
    message: Mapped[bytes | None] = mapped_column(LargeBinary)


class WebSession(db.Model):
    """What Flask keeps in `session` for one browser (monitor/session_store.py): the cookie
    carries only a random token, and the id stored is a SHA-256 of it."""

    __tablename__ = "web_sessions"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    data: Mapped[str] = mapped_column(Text)  # Flask's tagged JSON
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # pruned by it
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEventPatient(db.Model):
    """A patient a dashboard page, a report page or an export showed: one row per patient of
    an audited event, so that "who saw patient X" is answered from the audit log alone.
    Append-only like audit_events (triggers in migration 0011).

    A child table rather than a delimited list of ids in a column of audit_events: the
    viewer's patient filter is a range of an index on (patient_id, event_id) instead of a
    LIKE over every event's text (a year of a clinic's log is some 200k events and millions
    of shown ids; benchmarks/audit_log.py), and the primary key (event_id, patient_id) gives
    a page of events their patients. Ids only: no name, no flag, and no order (the
    dashboard's order is its triage, itself health information)."""

    __tablename__ = "audit_event_patients"
    __table_args__ = (Index("ix_audit_event_patients_patient", "patient_id", "event_id"),)
    event_id: Mapped[int] = mapped_column(ForeignKey("audit_events.id"), primary_key=True, autoincrement=False)
    # No foreign key to users: the log outlives any account and must never be changed by
    # something done to one (a cascade would be an UPDATE or DELETE here).
    patient_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)


class WriteVersion(db.Model):
    """One row: a counter that every committed transaction writing what pages read increments,
    in that same transaction (monitor/write_version.py). A worker keeps a page's inputs while it
    is unchanged, instead of reading a panel's history on every view."""

    __tablename__ = "write_version"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    n: Mapped[int] = mapped_column(BigInteger)   # how many increments: for people and tests
    token: Mapped[str] = mapped_column(String(32))  # random at each increment: what readers compare
