"""Who may be in a call, for as long as they are in it.

A person is let into a call by a single-use ticket, and stays only while the access that asked for the ticket
holds: a worker's web session (not logged out, not timed out, the account active), a citizen's device session
(ended when the personal link is revoked), a guest's link (not revoked; a relative's only while the citizen
consents to relatives in calls); and the appointment itself (not cancelled, not moved, its call window open).

The same rule decides at the door (:func:`redeem`, when a ticket is used) and during the call
(:func:`who_must_go`, which the app asks every ``CHECK_SECONDS`` about the rooms its processes hold sockets in):
so every way access can end — logout, a timeout, a deactivated account, a revoked link, a cancelled or moved
appointment, a withdrawn consent, the end of the call window — ends the call too, in whichever process holds the
socket, without each of those places having to remember to say so. The signalling server is only told whom to
take out of which room (docs/signaling.md, "Access that ends").
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, Select, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte.calls import calls, guests
from vbostotte.config import Settings
from vbostotte.identity import sessions
from vbostotte.models import Appointment, AppointmentKind, CallTicket, Citizen, Staff, WebSession

CHECK_SECONDS = 1.0  # how often the app checks the access of everyone in its calls (an ended access is out within 2 s)


@dataclass
class Removals:
    """What the signalling server must do: end these rooms for everyone, and take these people out of these rooms."""

    rooms: list[str] = field(default_factory=list)
    participants: list[tuple[str, str]] = field(default_factory=list)  # (room, participant id)


async def redeem(db: AsyncSession, token: str, settings: Settings, now: dt.datetime) -> calls.Joiner | None:
    """Use a ticket: who it lets into which room, or None if it is unknown, used or expired, the call is not open,
    or the access that asked for it has ended since."""
    grant = await calls.use_ticket(db, token, now)
    if grant is None:
        return None
    appointment = await db.get(Appointment, grant.appointment_id)
    if appointment is None or not _call_open(appointment, settings, now):
        return None
    return (await _joiners(db, [(grant, appointment)], settings, now)).get(grant.id)


async def who_must_go(db: AsyncSession, placed: dict[str, list[str]], settings: Settings, now: dt.datetime) -> Removals:
    """Of the people placed in these rooms (room -> participant ids), whose access has ended. A room whose
    appointment is cancelled, moved away or past its call window is ended for all. The web sessions of those who
    stay are kept alive: being in a call is activity."""
    removals = Removals()
    rooms = {room: calls.appointment_of(room) for room in placed}
    found = await db.execute(_APPOINTMENTS(), {"ids": [i for i in rooms.values() if i]})
    appointments: dict[int, Any] = {a.id: a for a in found}  # rows with an Appointment's columns that count here
    present: list[tuple[str, str, Any]] = []
    for room, pids in placed.items():
        appointment = appointments.get(rooms[room] or 0)
        if appointment is None or not _call_open(appointment, settings, now):
            removals.rooms.append(room)
        else:
            present.extend((room, pid, appointment) for pid in pids)
    grants = await _latest_grants(db, [a.id for a in appointments.values()])
    items = [
        (grant, appointment)
        for _, pid, appointment in present
        if (grant := grants.get((appointment.id, pid))) is not None
    ]
    admitted = await _joiners(db, items, settings, now, touch=True)
    for room, pid, appointment in present:
        grant = grants.get((appointment.id, pid))
        if grant is None or grant.id not in admitted:
            removals.participants.append((room, pid))
    return removals


def _call_open(appointment: Any, settings: Settings, now: dt.datetime) -> bool:
    """For an Appointment, or a row of ``_APPOINTMENTS``."""
    return appointment.kind == AppointmentKind.VIDEO and calls.is_open(appointment, settings, now)


async def _latest_grants(db: AsyncSession, appointment_ids: list[int]) -> dict[tuple[int, str], Row]:
    """The last used ticket of each person in these appointments' calls: the access they are in the call by."""
    if not appointment_ids:
        return {}
    rows = await db.execute(
        select(*calls.GRANT_COLUMNS)
        .where(CallTicket.appointment_id.in_(appointment_ids), CallTicket.used_at.is_not(None))
        .order_by(CallTicket.used_at, CallTicket.id)
    )
    return {(row.appointment_id, calls.participant_id(row.principal_kind, row.principal_id)): row for row in rows}


async def _joiners(
    db: AsyncSession, items: list[tuple[Row, Any]], settings: Settings, now: dt.datetime, *, touch: bool = False
) -> dict[int, calls.Joiner]:
    """For each (used ticket, its appointment: an Appointment or a row of ``_APPOINTMENTS``) whose access still
    holds: the ticket's id -> who it lets in."""
    hashes = {grant.session_hash for grant, _ in items if grant.session_hash}
    live = (
        {
            s.id_hash: s
            for s in await db.execute(_SESSIONS(), {"ids": list(hashes)})
            if sessions.is_live(s, settings, now)  # type: ignore[arg-type]  # a row of the columns it reads
        }
        if hashes
        else {}
    )
    touched: list[str] = []
    staff = await _by_id(
        db, _STAFF(), {g.principal_id for g, _ in items if g.principal_kind == calls.PrincipalKind.STAFF}
    )
    citizens = await _by_id(
        db, _CITIZENS(), {g.principal_id for g, _ in items if g.principal_kind == calls.PrincipalKind.CITIZEN}
    )
    joiners: dict[int, calls.Joiner] = {}
    for grant, appointment in items:
        if grant.slot_starts_at != appointment.starts_at:  # moved since the ticket was asked for
            continue
        room, kind, principal = calls.room_name(appointment.id), grant.principal_kind, grant.principal_id
        if kind == calls.PrincipalKind.GUEST:
            full = appointment if isinstance(appointment, Appointment) else await db.get(Appointment, appointment.id)
            joiner = await guests.joiner(db, principal, full) if full is not None else None
        else:
            session = live.get(grant.session_hash or "")
            joiner = None
            if kind == calls.PrincipalKind.STAFF and session is not None and session.staff_id == principal:
                person = staff.get(principal)
                if person is not None and person.active and person.id == appointment.worker_id:
                    joiner = calls.Joiner(
                        id=calls.participant_id(kind, principal),
                        room=room,
                        role=calls.HOST,
                        name=person.name.split()[0],
                    )
            elif (
                kind == calls.PrincipalKind.CITIZEN
                and session is not None
                and session.citizen_id == principal
                and appointment.citizen_id == principal
            ):
                citizen = citizens.get(principal)
                if citizen is not None:
                    joiner = calls.Joiner(
                        id=calls.participant_id(kind, principal),
                        room=room,
                        role=calls.GUEST,
                        name=citizen.preferred_name,
                    )
            if joiner is not None and touch and session is not None and sessions.touch_due(session.last_seen_at, now):
                touched.append(session.id_hash)  # a joiner here had a live session: noted as activity (sessions.touch)
        if joiner is not None:
            joiners[grant.id] = joiner
    if touched:
        await db.execute(_TOUCH(), {"ids": touched, "now": now})
    return joiners


async def _by_id(db: AsyncSession, statement, ids: set[int]) -> dict[int, Row]:
    """These people's rows (the first column is their id) in one query, by id: the check runs every second over
    everyone in a call, so it reads only what it needs."""
    return {row[0]: row for row in await db.execute(statement, {"ids": list(ids)})} if ids else {}


# Built on first use and kept: every join and the check every second run these, and building a statement costs
# about as much as running it. Columns, not ORM objects: the check reads everyone in a call every second.
def _by_ids(key: Any, *columns: Any) -> Callable[[], Select]:
    """The kept builder of a statement that reads ``key`` and these columns of the rows whose ``key`` is among the
    parameter ``ids``."""
    return functools.cache(lambda: select(key, *columns).where(key.in_(bindparam("ids", expanding=True))))


_APPOINTMENTS = _by_ids(
    Appointment.id,
    Appointment.kind,
    Appointment.cancelled_at,
    Appointment.starts_at,
    Appointment.ends_at,
    Appointment.worker_id,
    Appointment.citizen_id,
)
_SESSIONS = _by_ids(
    WebSession.id_hash,
    WebSession.staff_id,
    WebSession.citizen_id,
    WebSession.expires_at,
    WebSession.last_seen_at,
)
_TOUCH = functools.cache(
    lambda: (
        update(WebSession)
        .where(WebSession.id_hash.in_(bindparam("ids", expanding=True)))
        .values(last_seen_at=bindparam("now"))
        .execution_options(synchronize_session=False)
    )
)
_STAFF = _by_ids(Staff.id, Staff.active, Staff.name)
_CITIZENS = _by_ids(Citizen.id, Citizen.preferred_name)
