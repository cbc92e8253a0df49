"""Database tables (SQLAlchemy 2). Every time is stored in UTC; every tenant-owned row has ``municipality_id``."""

from __future__ import annotations

import datetime as dt
import enum

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.expression import false as sql_false
from sqlalchemy.sql.expression import true as sql_true

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
        return value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


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
    __table_args__ = (
        UniqueConstraint("email", name="uq_staff_email"),
        Index("uq_staff_municipality_oidc_subject", "municipality_id", "oidc_subject", unique=True),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    email: Mapped[str] = mapped_column(String(254))
    name: Mapped[str] = mapped_column(String(100))
    role: Mapped[StaffRole] = mapped_column(_enum(StaffRole, "staff_role"))
    password_hash: Mapped[str] = mapped_column(String(200))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    # The TOTP time step (unix time // 30) of the last code accepted: a code of that step or an earlier one is
    # refused, so each code logs in once (RFC 6238 §5.2). Written only by services.login.check_totp.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # The subject (``sub``) the municipality's OpenID provider gives this person: bound at the first sign-in through
    # the provider (identity/oidc.py), then the only thing a sign-in is matched on.
    oidc_subject: Mapped[str | None] = mapped_column(String(255))


class StaffPhoto(Base):
    """A staff member's own photo (identity/photos.py): re-encoded, without metadata; shown to their citizens in the
    call's waiting room and served only to those allowed to see it, never publicly."""

    __tablename__ = "staff_photos"
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    content_type: Mapped[str] = mapped_column(String(20))  # image/jpeg
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class Team(Base):
    __tablename__ = "teams"
    __table_args__ = (UniqueConstraint("municipality_id", "name", name="uq_teams_municipality_name"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    # Minutes of driving one home visit costs (there and back); video sessions held × this = driving time saved.
    travel_minutes: Mapped[int] = mapped_column(Integer, default=30, server_default="30")
    # The number citizens call to reach the team (set by the administrator; shown on the citizen's pages).
    phone: Mapped[str | None] = mapped_column(String(20), nullable=True)


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
    __table_args__ = (CheckConstraint("(staff_id IS NULL) <> (citizen_id IS NULL)", name="one_principal"),)
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
    # A session signed in through the municipality's OpenID provider: its ID token, the hint for RP-initiated logout.
    oidc_id_token: Mapped[str | None] = mapped_column(Text)


class LoginFailure(Base):
    """One failed login step, counted per account key and per client address for throttling."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_scope_key_at", "scope", "key", "at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))  # "account" | "ip"
    key: Mapped[str] = mapped_column(String(64))  # SHA-256 of the normalised e-mail or of the address
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ApiToken(Base):
    """A staff member's personal token for the JSON API (``Authorization: Bearer …``), for municipal
    systems that cannot hold a browser session. Only its SHA-256 is stored; it expires and can be revoked."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    staff_id: Mapped[int] = mapped_column(ForeignKey("staff.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(80))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class Appointment(Base):
    """A video session or home visit between a worker and a citizen (extended by booking)."""

    __tablename__ = "appointments"
    __table_args__ = (
        CheckConstraint("ends_at > starts_at", name="ends_after_start"),
        UniqueConstraint("created_by_id", "idempotency_key", name="uq_appointments_idempotency"),
        Index("ix_appointments_municipality_starts", "municipality_id", "starts_at"),
    )  # statistics
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
    # SHA-256 of the booking request the key was first used with: the same key with another request is refused.
    idempotency_hash: Mapped[str | None] = mapped_column(String(64))
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
    # A video session the worker started at once ("call now", calls/call_now.py), not booked ahead.
    unscheduled: Mapped[bool] = mapped_column(default=False, server_default=sql_false())

    worker: Mapped[Staff] = relationship(lazy="raise", foreign_keys=[worker_id])

    @property
    def has_interpreter(self) -> bool:
        return self.interpreter_name is not None


class AuditEntry(Base):
    """One append-only audit record, hash-chained to the one before it."""

    __tablename__ = "audit_entries"
    __table_args__ = (  # the access log's filters, newest first, paged by id (migration 0022)
        Index("ix_audit_entries_actor_id_id", "actor_id", "id"),
        Index("ix_audit_entries_action_id", "action", "id"),
        Index("ix_audit_entries_municipality_action", "municipality_id", "action"),
    )
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
    hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA-256 with key key_id (vbostotte/audit/keys.py)
    key_id: Mapped[str | None] = mapped_column(String(16))  # None: made before keys (plain SHA-256, migration 0015)


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


class OidcProvider(Base):
    """A municipality's own OpenID Connect provider for staff sign-in (identity/oidc.py), set by its administrator.
    The client secret is stored encrypted with a key derived from the server's secret key, never in the clear."""

    __tablename__ = "oidc_providers"
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id", ondelete="CASCADE"), primary_key=True)
    enabled: Mapped[bool] = mapped_column(default=False, server_default=sql_false())
    issuer: Mapped[str] = mapped_column(String(300), default="", server_default="")
    client_id: Mapped[str] = mapped_column(String(200), default="", server_default="")
    client_secret_enc: Mapped[str] = mapped_column(Text, default="", server_default="")
    scopes: Mapped[str] = mapped_column(
        String(200), default="openid email profile", server_default="openid email profile"
    )
    # First sign-in: match a staff member by the provider's verified e-mail (then by subject only).
    match_email: Mapped[bool] = mapped_column(default=True, server_default=sql_true())
    # The claim holding groups/roles; empty: the role is managed in the app.
    role_claim: Mapped[str] = mapped_column(String(100), default="", server_default="")
    worker_groups: Mapped[str] = mapped_column(String(300), default="", server_default="")
    supervisor_groups: Mapped[str] = mapped_column(String(300), default="", server_default="")
    admin_groups: Mapped[str] = mapped_column(String(300), default="", server_default="")
    # acr values / amr methods that count as strong authentication (then no local TOTP); space-separated.
    strong_acr: Mapped[str] = mapped_column(String(300), default="", server_default="")
    strong_amr: Mapped[str] = mapped_column(String(300), default="", server_default="")
    jit_create: Mapped[bool] = mapped_column(default=False, server_default=sql_false())
    password_login: Mapped[bool] = mapped_column(default=True, server_default=sql_true())
    updated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class OidcLogin(Base):
    """A sign-in through the provider under way: deleted when its callback comes, so state and nonce are single-use."""

    __tablename__ = "oidc_logins"
    state_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    browser_hash: Mapped[str] = mapped_column(String(64))  # SHA-256 of the cookie binding it to the browser
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id", ondelete="CASCADE"))
    nonce: Mapped[str] = mapped_column(String(100))
    code_verifier: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


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
    __table_args__ = (
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("end_minute > start_minute", name="end_after_start"),
    )
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


class OutboxStatus(enum.StrEnum):
    """Where an outbox message is on its way (``outbox.status``)."""

    PENDING = "pending"  # waiting until it is due (or until its next attempt)
    SENDING = "sending"  # claimed by a sender, until its lease ends
    SENT = "sent"
    FAILED = "failed"  # given up: no address, refused for good, or too many attempts
    DROPPED = "dropped"  # no longer to be sent: cancelled, moved, consent withdrawn, …


class CallRequestAnswer(str, enum.Enum):
    CALLED = "called"  # the worker called at once
    PROPOSED = "proposed"  # the worker proposed a time (an appointment the citizen answers)


class CallRequest(Base):
    """A citizen's one-tap "I'd like to talk to you" to one worker (calls/call_requests.py), and its answer."""

    __tablename__ = "call_requests"
    __table_args__ = (
        Index("ix_call_requests_citizen_created", "citizen_id", "created_at"),
        Index("ix_call_requests_worker_answered", "worker_id", "answered_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"))
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    worker_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(String(20))  # a CallRequestAnswer value
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id", ondelete="SET NULL"))


class OutboxMessage(Base):
    """A message to send (reminder, notice to an interpreter), durable until sent exactly once."""

    __tablename__ = "outbox"
    __table_args__ = (
        UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
        Index("ix_outbox_status_due", "status", "due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    # A day-plan task's reminder (purpose "day_task_reminder"); kept as history when the task is removed.
    day_task_id: Mapped[int | None] = mapped_column(ForeignKey("day_tasks.id", ondelete="SET NULL"), index=True)
    purpose: Mapped[str] = mapped_column(String(30))  # reminder | interpreter_invite | interpreter_cancel | ...
    channel: Mapped[str] = mapped_column(String(10))  # email | sms
    recipient_kind: Mapped[str] = mapped_column(String(12))  # citizen | interpreter
    dedupe_key: Mapped[str] = mapped_column(String(120))
    due_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # What the message was planned for: the appointment's start, or the day task's reminder time, as they were
    # when it was planned (a message whose appointment or task has moved since is dropped, not sent).
    planned_for: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default=OutboxStatus.PENDING)  # an OutboxStatus
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
    __table_args__ = (  # a person's last used ticket in a call (call_access, every second)
        Index("ix_call_tickets_grant", "appointment_id", "principal_kind", "principal_id", "used_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    principal_kind: Mapped[str] = mapped_column(String(10))  # a PrincipalKind
    principal_id: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The access that asked for it, which must hold for as long as its participant is in the call: the web session
    # of a worker or citizen (its SHA-256; None for a guest, whose link is the access), and when the appointment
    # started then (a moved appointment ends the access of everyone who joined before the move).
    session_hash: Mapped[str | None] = mapped_column(String(64))
    slot_starts_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class TurnGrant(Base):
    """TURN credentials handed to a person for the connection test, counted per person to limit how many they
    get (services.calls.connection_test_servers). Kept only for the counting window: older rows are deleted
    whenever a new one is written."""

    __tablename__ = "turn_grants"
    __table_args__ = (Index("ix_turn_grants_principal_at", "principal_kind", "principal_id", "issued_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    principal_kind: Mapped[str] = mapped_column(String(10))  # staff | citizen
    principal_id: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class PrincipalKind(enum.StrEnum):
    """Who a call ticket is for, and who is in a call: the first part of their participant id ("citizen-7")."""

    STAFF = "staff"
    CITIZEN = "citizen"
    GUEST = "guest"


_PRINCIPAL_KINDS = frozenset(PrincipalKind)


def participant_id(kind: str, principal_id: int) -> str:
    """A person's id in a call, "citizen-7": the kind and their id, never a name."""
    return f"{kind}-{principal_id}"


def parse_participant(participant: object) -> tuple[PrincipalKind, int] | None:
    """The kind and id in a participant id ("citizen-7" -> (CITIZEN, 7)), or None if it is not one."""
    kind, _, number = participant.partition("-") if isinstance(participant, str) else ("", "", "")
    if kind not in _PRINCIPAL_KINDS or not (number.isascii() and number.isdigit()):
        return None
    return PrincipalKind(kind), int(number)


class CallEventName(enum.StrEnum):
    """What a call event says happened (the signalling server emits these names as plain strings)."""

    JOINED = "joined"  # straight into the call, without waiting (a host, or someone already let in)
    WAITING = "waiting"  # in the waiting room
    ADMITTED = "admitted"  # let in from the waiting room by a host (details: by, waited_seconds)
    LEFT = "left"  # details: reason (hung_up, network_lost, ended_by_host, replaced, removed, call_closed)
    RECONNECTED = "reconnected"
    CONNECTION_TYPE = "connection_type"  # details: type (direct | relayed), rtt_ms
    ENDED = "ended"  # the call was ended for everyone (details: by, participants)


def _participant_part(index: int):
    """A column default: the kind (0) or id (1) in the row's participant id, for writers that give only that."""

    def default(context) -> object:
        parsed = parse_participant(context.get_current_parameters().get("participant"))
        return parsed[index] if parsed else None

    return default


class CallEvent(Base):
    """What happened in a call, for the session log: joined, waiting, admitted, left (and why), …"""

    __tablename__ = "call_events"
    __table_args__ = (Index("ix_call_events_appointment_event", "appointment_id", "event"),)  # statistics
    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    participant: Mapped[str] = mapped_column(String(30))  # "staff-3", "citizen-7": ids, never names
    # The participant id's two parts (a PrincipalKind and that person's id), filled from it when not given.
    # None only when the participant id is not of that form.
    participant_kind: Mapped[str | None] = mapped_column(String(10), default=_participant_part(0))
    participant_ref: Mapped[int | None] = mapped_column(Integer, default=_participant_part(1))
    role: Mapped[str] = mapped_column(String(10))
    event: Mapped[str] = mapped_column(String(20))  # a CallEventName
    details: Mapped[dict] = mapped_column(JSON, default=dict)


# --- Consent (samtykke): kinds with versioned texts, append-only hash-chained events ----------------


class ConsentKind(Base):
    """Something a citizen can agree to, per municipality (built-in codes, or the administrator's own)."""

    __tablename__ = "consent_kinds"
    __table_args__ = (UniqueConstraint("municipality_id", "code", name="uq_consent_kinds_municipality_code"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    code: Mapped[str] = mapped_column(String(40))
    position: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class ConsentVersion(Base):
    """One version of a kind's text, in plain Danish and in English. Append-only: a changed text is a new
    version, and events keep pointing at the version they were given on."""

    __tablename__ = "consent_versions"
    __table_args__ = (UniqueConstraint("kind_id", "version", name="uq_consent_versions_kind_version"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    kind_id: Mapped[int] = mapped_column(ForeignKey("consent_kinds.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    title_da: Mapped[str] = mapped_column(String(100))
    text_da: Mapped[str] = mapped_column(String(1000))
    title_en: Mapped[str] = mapped_column(String(100))
    text_en: Mapped[str] = mapped_column(String(1000))
    text_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class ConsentEvent(Base):
    """A consent given or withdrawn. Append-only and hash-chained per municipality (``seq`` 1, 2, …)."""

    __tablename__ = "consent_events"
    __table_args__ = (
        UniqueConstraint("municipality_id", "seq", name="uq_consent_events_municipality_seq"),
        Index("ix_consent_events_citizen_kind", "citizen_id", "kind_id"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"))
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id"))
    kind_id: Mapped[int] = mapped_column(ForeignKey("consent_kinds.id"))
    kind_code: Mapped[str] = mapped_column(String(40))
    version_id: Mapped[int] = mapped_column(ForeignKey("consent_versions.id"))
    version: Mapped[int] = mapped_column(Integer)
    text_sha256: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(10))  # given | withdrawn
    how: Mapped[str] = mapped_column(String(20))  # in_person | phone | video_call | citizen_page | migrated
    recorded_by_kind: Mapped[str] = mapped_column(String(10))  # staff | citizen | system
    recorded_by_id: Mapped[int | None] = mapped_column(Integer)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))  # HMAC-SHA-256 with key key_id, like the audit log's
    key_id: Mapped[str | None] = mapped_column(String(16))  # None: made before keys (plain SHA-256)


class ConsentHead(Base):
    """Per municipality: the consent chain's last sequence number and hash; locked while appending."""

    __tablename__ = "consent_heads"
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), primary_key=True)
    last_seq: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))


# --- Session notes and goals (see docs/notes-and-goals.md) ------------------------------------------


class NoteStatus(str, enum.Enum):
    DRAFT = "draft"
    SIGNED = "signed"


class GoalStatus(str, enum.Enum):
    NOT_STARTED = "not_started"
    UNDER_WAY = "under_way"
    ACHIEVED = "achieved"
    DROPPED = "dropped"


class Note(Base):
    """A session note about one citizen, after an appointment or on its own. Its text lives in versions."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    appointment_id: Mapped[int | None] = mapped_column(ForeignKey("appointments.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("staff.id"), index=True)
    # The team the author wrote it in: who may read it follows this team, not later moves.
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id"), index=True)
    # Shared notes show their latest signed version on the citizen's own page. Set while a draft is open.
    shared_with_citizen: Mapped[bool] = mapped_column(default=False, server_default=sql_false())
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class NoteVersion(Base):
    """One version of a note. A signed version is never changed (the database refuses it); an amendment is a new one."""

    __tablename__ = "note_versions"
    __table_args__ = (UniqueConstraint("note_id", "number", name="uq_note_versions_note_number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(ForeignKey("notes.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    talked_about: Mapped[str] = mapped_column(Text, default="")
    agreements: Mapped[str] = mapped_column(Text, default="")
    assessment: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[NoteStatus] = mapped_column(_enum(NoteStatus, "note_status"))
    amends_reason: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    signed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class NoteVersionGoal(Base):
    """The goals a note version touched (fixed with the version when it is signed)."""

    __tablename__ = "note_version_goals"
    version_id: Mapped[int] = mapped_column(ForeignKey("note_versions.id", ondelete="CASCADE"), primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), primary_key=True, index=True)


class Goal(Base):
    """A small, concrete goal agreed with the citizen ("delmål"), made of steps."""

    __tablename__ = "goals"
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    status: Mapped[GoalStatus] = mapped_column(_enum(GoalStatus, "goal_status"))
    target_date: Mapped[dt.date | None] = mapped_column(Date)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class GoalStep(Base):
    """One small step towards a goal; the citizen or a worker ticks it done."""

    __tablename__ = "goal_steps"
    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_by_kind: Mapped[str | None] = mapped_column(String(10))  # staff | citizen
    done_by_id: Mapped[int | None] = mapped_column(Integer)


class GoalEvent(Base):
    """The history of a goal, append-only: created, edited, status changed, step added, step ticked or unticked."""

    __tablename__ = "goal_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(ForeignKey("goals.id", ondelete="CASCADE"), index=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    actor_kind: Mapped[str] = mapped_column(String(10))  # staff | citizen | system
    actor_id: Mapped[int | None] = mapped_column(Integer)
    event: Mapped[str] = mapped_column(String(20))
    status: Mapped[str | None] = mapped_column(String(20))  # the new status, for "status"
    step_id: Mapped[int | None] = mapped_column(ForeignKey("goal_steps.id", ondelete="CASCADE"))


# --- Video calls: one-call guest links (interpreter, relative) -------------------------------------


class GuestLink(Base):
    """A link that lets one guest (the appointment's interpreter, or a relative) into one appointment's call.

    The link's token is derived from a random ``nonce`` and the server's secret key (so an interpreter's
    invitation can be composed when it is sent); only the token's SHA-256 is stored and looked up."""

    __tablename__ = "guest_links"
    id: Mapped[int] = mapped_column(primary_key=True)
    appointment_id: Mapped[int] = mapped_column(ForeignKey("appointments.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(12))  # interpreter | relative
    name: Mapped[str] = mapped_column(String(100))  # shown to the others in the call
    nonce: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))  # None: made for the interpreter
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


# --- Wellbeing check-ins and the day plan (see docs/wellbeing-and-day-plan.md) ---------------------


class CheckIn(Base):
    """The citizen's answer to "How are you today?" on a 1–5 face scale (1 = very bad), with optional words.
    A citizen may check in several times a day; the trend shows the latest of each day."""

    __tablename__ = "checkins"
    __table_args__ = (
        CheckConstraint("level BETWEEN 1 AND 5", name="level"),
        Index("ix_checkins_citizen_id_at", "citizen_id", "at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    level: Mapped[int] = mapped_column(Integer)
    words: Mapped[str | None] = mapped_column(String(200))
    day: Mapped[dt.date] = mapped_column(Date)  # the Copenhagen date it was given on
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    # A lowest-level check-in asks for the worker's attention until a worker marks it followed up.
    followed_up_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    followed_up_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class DayTask(Base):
    """One task on the citizen's day plan ("køb ind"), with an optional reminder time."""

    __tablename__ = "day_tasks"
    __table_args__ = (Index("ix_day_tasks_citizen_id_day", "citizen_id", "day"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"))
    day: Mapped[dt.date] = mapped_column(Date)  # Copenhagen date
    title: Mapped[str] = mapped_column(String(100))
    remind_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(10))  # citizen | staff
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class DayGrade(Base):
    """How far the citizen got with the day (1–5), given at the end of it; one per day, the last answer counts."""

    __tablename__ = "day_grades"
    __table_args__ = (CheckConstraint("grade BETWEEN 1 AND 5", name="grade"),)
    citizen_id: Mapped[int] = mapped_column(ForeignKey("citizens.id", ondelete="CASCADE"), primary_key=True)
    day: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    municipality_id: Mapped[int] = mapped_column(ForeignKey("municipalities.id"), index=True)
    grade: Mapped[int] = mapped_column(Integer)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
