"""Video calls, the booking side: which appointment's call a person may join and when, single-use join
tickets, and the call events kept for the session log. Signalling itself is the ``signaling`` package,
which is told who may join through :func:`vbostotte.calls.call_access.redeem`.
"""

from __future__ import annotations

import datetime as dt
import functools
import secrets
import time
from dataclasses import dataclass
from typing import cast

from sqlalchemy import ColumnElement, Row, Table, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from signaling import ice
from signaling.types import Event
from vbostotte.actors import Actor
from vbostotte.booking import booking, lifecycle
from vbostotte.config import Settings
from vbostotte.errors import Conflict, NotFound, Throttled
from vbostotte.i18n import N_
from vbostotte.identity import sessions
from vbostotte.models import (
    Appointment,
    AppointmentKind,
    Attendance,
    CallEvent,
    CallEventName,
    CallTicket,
    Citizen,
    PrincipalKind,
    parse_participant,
)
from vbostotte.models import participant_id as participant_id  # re-exported: calls.participant_id(kind, id)

TICKET_SECONDS = 60  # long enough to open the socket, short enough to be useless if it leaks
TICKETS_PER_WINDOW, TICKET_WINDOW = 30, dt.timedelta(minutes=10)  # generous for reconnects, a wall for scripts
HOST, GUEST = "host", "guest"  # roles in a call
ROOM_PREFIX = "appointment-"


class CallNotOpen(Conflict):
    message = N_("The call is open from %(minutes)s minutes before the start until an hour after the end.")


class TooManyTickets(Throttled):
    message = N_("Too many attempts to join. Please wait a few minutes and try again.")


class NotAVideoSession(Conflict):
    message = N_("This appointment is not a video session.")


@dataclass(frozen=True)
class Joiner:
    """Who a redeemed ticket lets into which room (converted to ``signaling.rooms.Participant``)."""

    id: str
    room: str
    role: str
    name: str


def room_name(appointment_id: int) -> str:
    return f"{ROOM_PREFIX}{appointment_id}"


def appointment_of(room: str) -> int | None:
    suffix = room.removeprefix(ROOM_PREFIX)
    return int(suffix) if room.startswith(ROOM_PREFIX) and suffix.isdigit() else None


def open_bounds(settings: Settings, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """A call is open at ``now`` for an appointment that starts no later than the first and ends no earlier than the
    second: from ``call_opens_minutes`` before its start until ``call_closes_minutes`` after its planned end."""
    return (
        now + dt.timedelta(minutes=settings.call_opens_minutes),
        now - dt.timedelta(minutes=settings.call_closes_minutes),
    )


def is_open(appointment: Appointment, settings: Settings, now: dt.datetime) -> bool:
    """A video session's room is open from shortly before its start until a while after its planned end."""
    latest_start, earliest_end = open_bounds(settings, now)
    return (
        appointment.cancelled_at is None
        and appointment.starts_at <= latest_start
        and appointment.ends_at >= earliest_end
    )


def open_video_calls(settings: Settings, now: dt.datetime) -> tuple[ColumnElement[bool], ...]:
    """:func:`is_open` for video sessions as SQL conditions, so a look-up of open calls reads no other rows."""
    latest_start, earliest_end = open_bounds(settings, now)
    return (
        Appointment.kind == AppointmentKind.VIDEO,
        Appointment.cancelled_at.is_(None),
        Appointment.starts_at <= latest_start,
        Appointment.ends_at >= earliest_end,
    )


async def open_call_of(db: AsyncSession, citizen_id: int, settings: Settings, now: dt.datetime) -> int | None:
    """The citizen's video session whose call is open now, if exactly one is: her personal link then takes her
    straight to its call (docs/call-page.md, Speed); otherwise to her start page."""
    found = await db.scalars(
        select(Appointment.id).where(Appointment.citizen_id == citizen_id, *open_video_calls(settings, now)).limit(2)
    )
    ids = list(found)
    return ids[0] if len(ids) == 1 else None


def check_joinable(appointment: Appointment, settings: Settings, now: dt.datetime) -> None:
    if appointment.kind != AppointmentKind.VIDEO:
        raise NotAVideoSession()
    if not is_open(appointment, settings, now):
        raise CallNotOpen(minutes=settings.call_opens_minutes)


async def call_for(db: AsyncSession, actor: Actor, appointment_id: int, action: str) -> Appointment:
    """The appointment, if ``actor`` is its own worker or citizen (others with access to the citizen do not join)."""
    appointment = await booking.appointment_for(db, actor, appointment_id, action)
    if not (actor.is_citizen or (actor.is_staff and actor.id == appointment.worker_id)):
        raise NotFound()
    return appointment


async def issue_ticket(
    db: AsyncSession, actor: Actor, appointment_id: int, settings: Settings, now: dt.datetime, *, session_hash: str
) -> str:
    """A ticket for the appointment's own worker or citizen to join its call; shown once, stored hashed. It
    remembers the web session that asked for it: the participant stays in the call only while that session
    lives (:mod:`vbostotte.calls.call_access`)."""
    appointment = await call_for(db, actor, appointment_id, "call.join")
    check_joinable(appointment, settings, now)
    return await new_ticket(db, appointment, actor.kind, actor.known_id, now, session_hash=session_hash)


async def new_ticket(
    db: AsyncSession,
    appointment: Appointment,
    kind: str,
    principal_id: int,
    now: dt.datetime,
    *,
    session_hash: str | None = None,
) -> str:
    """A single-use ticket for ``kind`` (staff, citizen, guest) ``principal_id`` to join the appointment's call."""
    recent = await db.execute(
        select(func.count())
        .select_from(CallTicket)
        .where(
            CallTicket.principal_kind == kind,
            CallTicket.principal_id == principal_id,
            CallTicket.expires_at > now - TICKET_WINDOW + dt.timedelta(seconds=TICKET_SECONDS),
        )
    )
    if recent.scalar_one() >= TICKETS_PER_WINDOW:
        raise TooManyTickets()
    token = sessions.new_token()
    db.add(
        CallTicket(
            token_hash=sessions.token_hash(token),
            appointment_id=appointment.id,
            principal_kind=kind,
            principal_id=principal_id,
            expires_at=now + dt.timedelta(seconds=TICKET_SECONDS),
            session_hash=session_hash,
            slot_starts_at=appointment.starts_at,
        )
    )
    await db.flush()
    return token


@dataclass(frozen=True)
class CallSetup:
    """What the call page needs to join: the ticket, and ICE servers with short-lived TURN credentials."""

    ticket: str
    ice_servers: list[dict]
    ice_transport_policy: str  # "relay" hides the citizen's address from the others


class RelayMissing(Conflict):
    """A relay-only citizen's call cannot start: no TURN server is configured (it would go direct and show the
    citizen's internet address to the others)."""

    message = N_("The citizen must call through a relay server (TURN), but none is set up. Contact IT.")


RELAY_MISSING_FOR_CITIZEN = N_(
    "Your calls must go through a relay server (TURN), so that the others cannot see your "
    "internet address, but none is set up. The call cannot start. Please tell your "
    "support worker."
)


def relay_available(settings: Settings) -> bool:
    """Is a TURN server configured (a turn: or turns: address and the shared secret for its credentials)?"""
    return bool(settings.turn_secret) and any(url.startswith(("turn:", "turns:")) for url in _split(settings.turn_urls))


def relay_missing(citizen: Citizen, settings: Settings) -> bool:
    """Must the citizen's calls go through the relay while there is none? Then her call cannot start."""
    return citizen.force_relay and not relay_available(settings)


async def relay_only_citizens(db: AsyncSession) -> int:
    """How many citizens' calls must go through the relay (for the start-up warning when there is no TURN)."""
    return (
        await db.execute(select(func.count()).select_from(Citizen).where(Citizen.force_relay.is_(True)))
    ).scalar_one()


async def set_up(
    db: AsyncSession, actor: Actor, appointment_id: int, settings: Settings, now: dt.datetime, *, session_hash: str
) -> CallSetup:
    """A join ticket for a call participant, with the ICE servers only call participants get.

    A relay-only citizen's call fails closed: without a TURN server neither she nor her worker gets a ticket
    (:class:`RelayMissing`; the ticket just made is rolled back with the request), so her browser never gathers,
    and nobody ever receives, her own addresses. This is the one place citizen and worker tickets are made."""
    token = await issue_ticket(db, actor, appointment_id, settings, now, session_hash=session_hash)
    appointment = await db.get(Appointment, appointment_id)
    citizen = await db.get(Citizen, appointment.citizen_id) if appointment is not None else None
    if appointment is None or citizen is None:  # issue_ticket found both
        raise NotFound()
    if relay_missing(citizen, settings):
        raise RelayMissing(RELAY_MISSING_FOR_CITIZEN if actor.is_citizen else None)
    relay = actor.is_citizen and citizen.force_relay
    servers = ice_servers_for(settings, ttl_seconds=call_turn_seconds(appointment, settings, now))
    return CallSetup(ticket=token, ice_servers=servers, ice_transport_policy="relay" if relay else "all")


def ice_servers_for(settings: Settings, *, ttl_seconds: int | None = None, turn: bool = True) -> list[dict]:
    """The configured STUN servers, and (``turn``) TURN with fresh credentials living ``ttl_seconds`` (default
    VB_TURN_TTL_SECONDS): for a call :func:`call_turn_seconds`, for the connection test a few minutes
    (calls/connection_test.py). Only people who can be in a call get TURN credentials.

    The TURN server checks the credentials' expiry against its own clock, so they are made with the wall
    clock (``time.time()``), never the app's clock: that one is the time of the app's own rules, which tests
    set to a fixed day (docs/architecture.md, "Two clocks")."""
    return ice.ice_servers(
        _split(settings.stun_urls),
        _split(settings.turn_urls) if turn else [],
        settings.turn_secret,
        secrets.token_hex(8),
        settings.turn_ttl_seconds if ttl_seconds is None else ttl_seconds,
        time.time(),
    )


def call_turn_seconds(appointment: Appointment, settings: Settings, now: dt.datetime) -> int:
    """How long a call participant's TURN credentials live: until the call closes (the appointment's end plus
    VB_CALL_CLOSES_MINUTES), counted from ``now`` on the app's clock, at most VB_TURN_TTL_SECONDS and never less
    than a ticket. The TURN server refuses to refresh a relay once they have ended, so they must cover the call."""
    closes = appointment.ends_at + dt.timedelta(minutes=settings.call_closes_minutes)
    return max(TICKET_SECONDS, min(settings.turn_ttl_seconds, int((closes - now).total_seconds())))


def _split(urls: str) -> list[str]:
    return [url.strip() for url in urls.split(",") if url.strip()]


GRANT_COLUMNS = (
    CallTicket.id,
    CallTicket.appointment_id,
    CallTicket.principal_kind,
    CallTicket.principal_id,
    CallTicket.session_hash,
    CallTicket.slot_starts_at,
)  # what a used ticket says about its access


async def use_ticket(db: AsyncSession, token: str, now: dt.datetime) -> Row | None:
    """Mark a ticket used (once): its ``GRANT_COLUMNS``, or None if it is unknown, used or expired. Whether it
    still lets anybody in is :func:`vbostotte.calls.call_access.redeem`'s to say."""
    if not isinstance(token, str) or not 20 <= len(token) <= 100:
        return None
    used = await db.execute(_use_ticket_statement(), {"ticket_hash": sessions.token_hash(token), "at": now})
    return used.first()


@functools.cache
def _use_ticket_statement():
    """A plain UPDATE … RETURNING (no ORM object involved or loaded), built once: every join runs it."""
    tickets = cast(Table, CallTicket.__table__)
    now = bindparam("at", type_=tickets.c.used_at.type)
    return (
        update(tickets)
        .where(
            tickets.c.token_hash == bindparam("ticket_hash"), tickets.c.used_at.is_(None), tickets.c.expires_at > now
        )
        .values(used_at=now)
        .returning(*(tickets.c[column.key] for column in GRANT_COLUMNS))
    )


async def record_events(db: AsyncSession, events: list[Event]) -> None:
    """Keep a batch of call events for the session log; a citizen joining pre-fills the appointment's attendance."""
    rows: list[dict] = []
    attended: dict[int, dt.datetime] = {}  # appointment: when the citizen joined it
    for e in events:
        appointment_id = appointment_of(e.participant.room)
        if appointment_id is None:
            continue
        kind, ref = parse_participant(e.participant.id) or (None, None)
        rows.append(
            {
                "appointment_id": appointment_id,
                "at": dt.datetime.fromtimestamp(e.at, dt.UTC),
                "participant": e.participant.id[:30],
                "participant_kind": kind,
                "participant_ref": ref,
                "role": e.participant.role[:10],
                "event": e.event[:20],
                "details": {k: v for k, v in e.details.items() if isinstance(v, (str, int, float, bool))},
            }
        )
        if e.event in (CallEventName.JOINED, CallEventName.ADMITTED) and kind == PrincipalKind.CITIZEN:
            attended[appointment_id] = dt.datetime.fromtimestamp(e.at, dt.UTC)
    if rows:
        await db.execute(insert(CallEvent), rows)
    if attended:
        await _mark_attended(db, attended)


async def _mark_attended(db: AsyncSession, joined: dict[int, dt.datetime]) -> None:
    """The citizen joined: she attended, where the appointment's state machine allows it (not over a cancellation,
    nor over a worker's "did not come" or "called off"). Only an appointment with nothing recorded is written."""
    found = (await db.execute(select(Appointment).where(Appointment.id.in_(joined)))).scalars()
    for appointment in found:
        state = lifecycle.state_of(appointment, joined[appointment.id])
        if appointment.attendance is None and lifecycle.permits(state, lifecycle.Change.CITIZEN_JOINED):
            appointment.attendance = Attendance.ATTENDED.value
    await db.flush()


async def events_of(db: AsyncSession, appointment_id: int) -> list[CallEvent]:
    stmt = select(CallEvent).where(CallEvent.appointment_id == appointment_id).order_by(CallEvent.at, CallEvent.id)
    return list((await db.execute(stmt)).scalars())
