"""Database tables (SQLAlchemy 2). Every time is stored in UTC; every tenant-owned row has ``municipality_id``."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    JSON,
    Integer,
    MetaData,
    String,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false as sql_false

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC datetime on every backend (SQLite keeps no zone, so it is put back on read)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.timezone.utc)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class StaffRole(str, enum.Enum):
    WORKER = "worker"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class AppointmentKind(str, enum.Enum):
    VIDEO = "video"
    HOME_VISIT = "home_visit"


def _enum(cls: type[enum.Enum], name: str) -> Enum:
    return Enum(cls, name=name, native_enum=False, values_callable=lambda e: [m.value for m in e], length=20)


class Municipality(Base):
    __tablename__ = "municipalities"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Staff(Base):
    """A support worker, supervisor or administrator. Logs in with e-mail, password and TOTP."""

    __tablename__ = "staff"
    __table_args__ = (UniqueConstraint("email", name="uq_staff_email"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("municipality_id", "name", name="uq_teams_municipality_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))


class TeamMember(Base):
    """A worker belongs to a team; a supervisor who is a member leads it."""

    __tablename__ = "team_members"
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True, index=True)


class Citizen(Base):
    """A citizen receiving support. Never has a password: signs in with a personal link."""

    __tablename__ = "citizens"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    preferred_name: Mapped[str] = mapped_column(String(50))
    phone: Mapped[str | None] = mapped_column(String(20))
    email: Mapped[str | None] = mapped_column(String(254))
    locale: Mapped[str] = mapped_column(String(5), default="da")
    # Calls go through the TURN relay only, so other participants never see the citizen's IP address.
    force_relay: Mapped[bool] = mapped_column(default=False, server_default=sql_false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Caseload(Base):
    """Which workers support which citizen."""

    __tablename__ = "caseloads"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True, index=True)


class PersonalLink(Base):
    """A citizen's sign-in link. Only the SHA-256 of the token is stored."""

    __tablename__ = "personal_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class WebSession(Base):
    """A server-side session. The cookie holds a random id; only its SHA-256 is stored here."""

    __tablename__ = "web_sessions"
    __table_args__ = (
        CheckConstraint("(staff_id IS NULL) <> (citizen_id IS NULL)", name="one_principal"),
    )
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    citizen_id: Mapped[int | None] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    link_id: Mapped[int | None] = mapped_column(ForeignKey("personal_links.id", ondelete="CASCADE"), index=True)
    # A staff session is "pending" after the password step until the second factor is given.
    mfa_passed: Mapped[bool] = mapped_column(default=False)
    pending_totp_secret: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class LoginFailure(Base):
    """One failed login step, counted per account key and per client address for throttling."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_scope_key_at", "scope", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))  # "account" | "ip"
    key: Mapped[str] = mapped_column(String(64))  # SHA-256 of the normalised e-mail or of the address
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Appointment(Base):
    """A video session or home visit between a worker and a citizen (extended by booking)."""

    __tablename__ = "appointments"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),
                      UniqueConstraint("created_by_id", "idempotency_key", name="uq_appointments_idempotency"))
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"), index=True)
    worker_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    kind: Mapped[AppointmentKind] = mapped_column(_enum(AppointmentKind, "appointment_kind"))
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    note_to_citizen: Mapped[str | None] = mapped_column(String(300))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # A retried booking request with the same key returns the same appointment.
    idempotency_key: Mapped[str | None] = mapped_column(String(100))
    response: Mapped[str] = mapped_column(String(10), default="none")  # none | confirmed | cant_come
    responded_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(10))  # worker | citizen
    cancel_reason: Mapped[str | None] = mapped_column(String(300))
    attendance: Mapped[str | None] = mapped_column(String(20))  # an Attendance value
    interpreter_name: Mapped[str | None] = mapped_column(String(100))
    interpreter_email: Mapped[str | None] = mapped_column(String(254))
    interpreter_phone: Mapped[str | None] = mapped_column(String(20))
    interpreter_language: Mapped[str | None] = mapped_column(String(50))
    interpreter_released_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # iCalendar SEQUENCE: raised whenever a participant's calendar must replace the event (moved, cancelled,
    # interpreter released), so calendar apps take the newer version over the one they have.
    sequence: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    worker: Mapped[Staff] = relationship(lazy="raise", foreign_keys=[worker_id])

    @property
    def has_interpreter(self) -> bool:
        return self.interpreter_name is not None


class AuditEntry(Base):
    """One append-only audit record, hash-chained to the one before it."""

    __tablename__ = "audit_entries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    municipality_id: Mapped[int | None] = mapped_column(Integer, index=True)
    actor_kind: Mapped[str] = mapped_column(String(10))  # staff | citizen | anonymous | system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    actor_role: Mapped[str] = mapped_column(String(20))
    action: Mapped[str] = mapped_column(String(50))
    citizen_id: Mapped[int | None] = mapped_column(Integer, index=True)
    object_type: Mapped[str | None] = mapped_column(String(30))
    object_id: Mapped[int | None] = mapped_column(Integer)
    purpose: Mapped[str] = mapped_column(String(30))
    outcome: Mapped[str] = mapped_column(String(10))  # allowed | denied
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row that holds the chain's last id and hash; locked while appending."""

    __tablename__ = "audit_head"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))



# --- Booking: availability, appointments' life cycle, reminders -----------------------------------


class CitizenResponse(str, enum.Enum):
    NONE = "none"
    CONFIRMED = "confirmed"
    CANT_COME = "cant_come"


class Attendance(str, enum.Enum):
    ATTENDED = "attended"
    NO_SHOW = "no_show"
    CANCELLED_LATE = "cancelled_late"
    CANCELLED_IN_TIME = "cancelled_in_time"


class MunicipalitySettings(Base):
    """Per-municipality booking and reminder settings, set by the administrator."""

    __tablename__ = "municipality_settings"
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id", ondelete="CASCADE"), primary_key=True)
    reminder_offsets_minutes: Mapped[str] = mapped_column(String(100), default="1440,60")
    confirm_cutoff_minutes: Mapped[int] = mapped_column(Integer, default=180)
    crisis_line_text: Mapped[str] = mapped_column(String(500), default="")


class WorkingHours(Base):
    """A worker's bookable hours on one weekday, in Copenhagen wall-clock time."""

    __tablename__ = "working_hours"
    __table_args__ = (CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
                      CheckConstraint("end_minute > start_minute", name="end_after_start"))
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="work")  # "work" (bookable) | "messages" (answers messages)
    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0
    start_minute: Mapped[int] = mapped_column(Integer)  # minutes after local midnight
    end_minute: Mapped[int] = mapped_column(Integer)


class AvailabilityException(Base):
    """Time a worker is away (holiday, sick day): not bookable."""

    __tablename__ = "availability_exceptions"
    __table_args__ = (CheckConstraint("ends_at > starts_at", name="ends_after_start"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    reason: Mapped[str] = mapped_column(String(20))  # holiday | sick | other
    starts_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ReminderPreference(Base):
    """Which reminder channels a citizen wants (replaced by consent records in the consent issue)."""

    __tablename__ = "reminder_preferences"
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[bool] = mapped_column(default=False)
    sms: Mapped[bool] = mapped_column(default=False)


class OutboxMessage(Base):
    """A message to send (reminder, notice to an interpreter), durable until sent exactly once."""

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
                      Index("ix_outbox_status_due", "status", "due_at"))
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))  # reminder | interpreter_invite | interpreter_cancel | ...
    channel: Mapped[str] = mapped_column(String(10))  # email | sms
    recipient_kind: Mapped[str] = mapped_column(String(12))  # citizen | interpreter
    dedupe_key: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="pending")  # pending | sending | sent | failed | dropped
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    lease_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


# --- Calendars: a worker's private calendar feed ---------------------------------------------------


class CalendarFeed(Base):
    """A worker's private, revocable calendar subscription address. Only the SHA-256 of its token is stored."""

    __tablename__ = "calendar_feeds"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# --- Video calls ----------------------------------------------------------------------------------


class CallTicket(Base):
    """A short-lived, single-use ticket to join one appointment's call (only its SHA-256 is stored)."""

    __tablename__ = "call_tickets"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    principal_kind: Mapped[str] = mapped_column(String(10))  # staff | citizen
    principal_id: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class CallEvent(Base):
    """What happened in a call, for the session log: joined, waiting, admitted, left (and why), …"""

    __tablename__ = "call_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    participant: Mapped[str] = mapped_column(String(30))  # "staff-3", "citizen-7": ids, never names
    role: Mapped[str] = mapped_column(String(10))
    event: Mapped[str] = mapped_column(String(20))
    details: Mapped[dict] = mapped_column(JSON, default=dict)
