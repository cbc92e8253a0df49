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

For workers and citizens the rule is one statement (:func:`_verdicts`): the database joins each person's ticket,
session, account and appointment and, during the call, answers only about those who must go and those whose
session is due to be marked active, so a check over a thousand people in calls reads a handful of rows. Guests,
few and ruled by their link and the citizen's consent, are judged one by one (:func:`_guest`).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Integer, Select, String, and_, bindparam, case, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from vbostotte.calls import calls, guests
from vbostotte.config import Settings
from vbostotte.identity import sessions
from vbostotte.models import Appointment, AppointmentKind, CallTicket, Citizen, PrincipalKind, Staff, WebSession

CHECK_SECONDS = 1.0  # how often the app checks the access of everyone in its calls (an ended access is out within 2 s)


@dataclass
class Removals:
    """What the check found: rooms to end for everyone, people to take out of rooms, and the web sessions of people
    who stay that are due to be marked active (being in a call is activity: :func:`note_activity`)."""

    rooms: list[str] = field(default_factory=list)
    participants: list[tuple[str, str]] = field(default_factory=list)  # (room, participant id)
    active_sessions: list[str] = field(default_factory=list)  # WebSession.id_hash


async def redeem(db: AsyncSession, token: str, settings: Settings, now: dt.datetime) -> calls.Joiner | None:
    """Use a ticket: who it lets into which room, or None if it is unknown, used or expired, the call is not open,
    or the access that asked for it has ended since."""
    grant = await calls.use_ticket(db, token, now)
    if grant is None:
        return None
    kind, principal, room = grant.principal_kind, grant.principal_id, calls.room_name(grant.appointment_id)
    if kind == PrincipalKind.GUEST:
        return await _guest(db, grant.appointment_id, principal, settings, now, grant)
    rows = await db.execute(
        _verdicts(_dialect(db), door=True),
        {
            **_placed_parameters(db, [(grant.appointment_id, kind, principal)]),
            **_times(settings, now),
            "ticket": grant.id,
        },
    )
    verdict = rows.first()
    if verdict is None or verdict.ended:
        return None
    staff = kind == PrincipalKind.STAFF
    return calls.Joiner(
        id=calls.participant_id(kind, principal),
        room=room,
        role=calls.HOST if staff else calls.GUEST,
        name=verdict.name.split()[0] if staff else verdict.name,
    )


async def who_must_go(db: AsyncSession, placed: dict[str, list[str]], settings: Settings, now: dt.datetime) -> Removals:
    """Of the people placed in these rooms (room -> participant ids), whose access has ended. A room whose
    appointment is cancelled, moved away or past its call window is ended for all. Reads only: the web sessions of
    those who stay that are due to be marked active are in the answer, for :func:`note_activity`."""
    removals = Removals()
    people: list[tuple[int, str, int]] = []  # workers and citizens: (appointment, kind, id)
    visitors: list[tuple[str, str, int, int]] = []  # guests: (room, participant id, appointment, link)
    rooms: dict[int, str] = {}
    for room, pids in placed.items():
        appointment = calls.appointment_of(room)
        if appointment is None:
            removals.rooms.append(room)
            continue
        rooms[appointment] = room
        for pid in pids:
            parsed = calls.parse_participant(pid)
            if parsed is None:
                removals.participants.append((room, pid))
            elif parsed[0] == PrincipalKind.GUEST:
                visitors.append((room, pid, appointment, parsed[1]))
            else:
                people.append((appointment, parsed[0], parsed[1]))
    closed: set[int] = set()
    if people:
        parameters = {**_placed_parameters(db, people), **_times(settings, now)}
        rows = await db.execute(
            _verdicts(_dialect(db), door=False), {**parameters, "touch_before": now - sessions.TOUCH_EVERY}
        )
        for row in rows:
            if not row.room_open:
                closed.add(row.appointment_id)
            elif row.ended:
                removals.participants.append(
                    (rooms[row.appointment_id], calls.participant_id(row.kind, row.principal_id))
                )
            elif sessions.touch_due(row.last_seen_at, now):
                removals.active_sessions.append(row.session_hash)
    for room, pid, appointment, link in visitors:
        if appointment in closed:
            continue
        if await _guest(db, appointment, link, settings, now) is None:
            full = await db.get(Appointment, appointment)
            if full is None or not _call_open(full, settings, now):
                closed.add(appointment)
            else:
                removals.participants.append((room, pid))
    removals.rooms.extend(rooms[a] for a in sorted(closed))
    removals.participants = [
        (room, pid) for room, pid in removals.participants if calls.appointment_of(room) not in closed
    ]
    return removals


async def note_activity(db: AsyncSession, session_hashes: list[str], settings: Settings, now: dt.datetime) -> None:
    """Mark these web sessions active (their people are in a call), unless they have ended since the check."""
    if session_hashes:
        await db.execute(
            _TOUCH(), {"ids": session_hashes, "now": now, "idle_after": sessions.idle_cutoff(settings, now)}
        )


def _call_open(appointment: Appointment, settings: Settings, now: dt.datetime) -> bool:
    return appointment.kind == AppointmentKind.VIDEO and calls.is_open(appointment, settings, now)


async def _guest(
    db: AsyncSession, appointment_id: int, link_id: int, settings: Settings, now: dt.datetime, grant: Any = None
) -> calls.Joiner | None:
    """A guest's access: by the ticket just used (``grant``), or else by their last used one."""
    if grant is None:
        grant = (
            await db.execute(
                select(CallTicket.slot_starts_at)
                .where(
                    CallTicket.appointment_id == appointment_id,
                    CallTicket.principal_kind == PrincipalKind.GUEST,
                    CallTicket.principal_id == link_id,
                    CallTicket.used_at.is_not(None),
                )
                .order_by(CallTicket.used_at.desc(), CallTicket.id.desc())
                .limit(1)
            )
        ).first()
    appointment = await db.get(Appointment, appointment_id)
    if grant is None or appointment is None or not _call_open(appointment, settings, now):
        return None
    if grant.slot_starts_at != appointment.starts_at:  # moved since the ticket was asked for
        return None
    return await guests.joiner(db, link_id, appointment)


# -- the rule for workers and citizens, as one statement --------------------------------------------------------------
def _dialect(db: AsyncSession) -> str:
    return db.get_bind().dialect.name


def _placed_parameters(db: AsyncSession, people: Iterable[tuple[int, str, int]]) -> dict[str, Any]:
    """The people to judge, (appointment, kind, id) each, as the parameters of ``_placed``: one parameter whatever
    their number, so the statement's text stays the same (no list of placeholders per length)."""
    if _dialect(db) == "postgresql":
        appointments, kinds, ids = zip(*people, strict=True)
        return {"appointments": list(appointments), "kinds": [str(k) for k in kinds], "ids": list(ids)}
    return {"placed": json.dumps([[a, str(k), i] for a, k, i in people])}


def _placed(dialect: str) -> Any:
    """The people to judge as a table (appointment_id, kind, principal_id), from ``_placed_parameters``."""
    if dialect == "postgresql":
        sql = (
            "SELECT * FROM unnest(CAST(:appointments AS INTEGER[]), CAST(:kinds AS VARCHAR[]), CAST(:ids AS INTEGER[]))"
            " AS placed(appointment_id, kind, principal_id)"
        )
    else:
        sql = (
            "SELECT json_extract(value, '$[0]') AS appointment_id, json_extract(value, '$[1]') AS kind,"
            " json_extract(value, '$[2]') AS principal_id FROM json_each(:placed)"
        )
    # Materialised: each person's values are read from the parameter once, not again wherever the rule names them.
    placed = text(sql).columns(appointment_id=Integer, kind=String, principal_id=Integer).cte("placed")
    return placed.prefix_with("MATERIALIZED")


def _times(settings: Settings, now: dt.datetime) -> dict[str, dt.datetime]:
    """The moments the rule compares with: the call window's bounds, now, and the idle limit of staff sessions."""
    latest_start, earliest_end = calls.open_bounds(settings, now)
    return {
        "latest_start": latest_start,
        "earliest_end": earliest_end,
        "now": now,
        "idle_after": sessions.idle_cutoff(settings, now),
    }


@functools.cache
def _verdicts(dialect: str, *, door: bool) -> Select:
    """For each placed worker or citizen: whether their call is open (``room_open``), whether their access has ended
    (``ended``), their session and when it was last marked active, and the name they are shown by. At the door
    (``door``) by the ticket just used (parameter ``ticket``) and for everyone; during the call by each person's last
    used ticket, and only for those whose access ended or whose session is due to be marked active.

    The same conditions as ``calls.is_open``, ``sessions.is_live`` and ``sessions.touch_due``, in SQL; the tests in
    tests/realtime/test_access_ends.py end access in each way and tests/unit/test_call_access.py holds both."""
    placed = _placed(dialect)
    held = aliased(CallTicket, name="held")
    if door:
        ticket: Any = bindparam("ticket", type_=Integer)
    else:
        ticket = (
            select(CallTicket.id)
            .where(
                CallTicket.appointment_id == placed.c.appointment_id,
                CallTicket.principal_kind == placed.c.kind,
                CallTicket.principal_id == placed.c.principal_id,
                CallTicket.used_at.is_not(None),
            )
            .order_by(CallTicket.used_at.desc(), CallTicket.id.desc())
            .limit(1)
            .correlate(placed)
            .scalar_subquery()
        )
    call_open = and_(
        Appointment.kind == AppointmentKind.VIDEO,
        Appointment.cancelled_at.is_(None),
        Appointment.starts_at <= bindparam("latest_start"),
        Appointment.ends_at >= bindparam("earliest_end"),
    )
    staff, citizen = placed.c.kind == PrincipalKind.STAFF, placed.c.kind == PrincipalKind.CITIZEN
    allowed = and_(
        call_open,
        held.slot_starts_at == Appointment.starts_at,  # not moved since the ticket was asked for
        _live_session(),
        or_(
            and_(
                staff,
                WebSession.staff_id == placed.c.principal_id,
                Staff.active.is_(True),
                Appointment.worker_id == placed.c.principal_id,
            ),
            and_(
                citizen,
                WebSession.citizen_id == placed.c.principal_id,
                Appointment.citizen_id == placed.c.principal_id,
                Citizen.id.is_not(None),
            ),
        ),
    )
    ended = case((allowed, False), else_=True)  # a row missing anywhere (no session, no ticket) is an ended access
    statement = (
        select(
            placed.c.appointment_id,
            placed.c.kind,
            placed.c.principal_id,
            case((call_open, True), else_=False).label("room_open"),
            ended.label("ended"),
            held.session_hash,
            WebSession.last_seen_at,
            func.coalesce(Staff.name, Citizen.preferred_name).label("name"),
        )
        .select_from(placed)
        .outerjoin(Appointment, Appointment.id == placed.c.appointment_id)
        .outerjoin(held, held.id == ticket)
        .outerjoin(WebSession, WebSession.id_hash == held.session_hash)
        .outerjoin(Staff, and_(staff, Staff.id == placed.c.principal_id))
        .outerjoin(Citizen, and_(citizen, Citizen.id == placed.c.principal_id))
    )
    if door:
        return statement
    return statement.where(or_(ended, WebSession.last_seen_at <= bindparam("touch_before")))


def _live_session() -> Any:
    """``sessions.is_live`` in SQL, with the parameters ``now`` and ``idle_after`` (``sessions.idle_cutoff``)."""
    return and_(
        WebSession.expires_at > bindparam("now"),
        or_(WebSession.staff_id.is_(None), WebSession.last_seen_at >= bindparam("idle_after")),
    )


_TOUCH = functools.cache(
    lambda: (
        update(WebSession)
        .where(
            WebSession.id_hash.in_(bindparam("ids", expanding=True)),
            _live_session(),  # still live: ending a session is never undone by a call
            WebSession.last_seen_at < bindparam("now"),
        )
        .values(last_seen_at=bindparam("now"))
        .execution_options(synchronize_session=False)
    )
)
