"""Who is waiting for the worker: the people in the waiting rooms of the worker's own video sessions whose call is
open now, read from the signalling server's rooms (the broker's store: Redis shared by every process, or this
process's dicts). The staff pages ask for it every few seconds, so the worker knows without watching the call page.

Only the appointment's own worker sees its room, and only while the citizen is on their caseload (the rule every
citizen read follows, ``access.visible_citizens``). Naming a waiting citizen is a read of citizen data: it is
audited, once for each time a person starts waiting (not at every poll), for the viewer and the appointment.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.calls import calls
from vbostotte.config import Settings
from vbostotte.models import Appointment, AuditEntry, StaffRole

ACTION = "call.waiting"  # the audit action: who waits in which of the viewer's calls was shown to them
WAITING = "waiting"  # a place's state in signalling (``signaling.rooms.WAITING``)
HOST = "host"


class Place(Protocol):
    """A participant's place in a room, as ``signaling.rooms.Rooms.members`` gives it."""

    id: str
    name: str
    role: str
    state: str
    since: float  # when they took the place: epoch seconds of the wall clock (signalling keeps its own time)


Members = Callable[[str], Awaitable[Sequence[Place]]]  # a room's places, oldest first


@dataclass(frozen=True)
class Waiting:
    """One person in a waiting room of the worker's calls."""

    appointment_id: int
    participant: str  # the participant id in the room ("citizen-7", "guest-3")
    name: str  # as shown to others in the call (a first name)
    citizen: bool  # the appointment's citizen (else a guest: interpreter or relative)
    since: dt.datetime  # when they entered the waiting room
    waited_seconds: int


async def open_calls(db: AsyncSession, who: Actor, settings: Settings, now: dt.datetime) -> list[Appointment]:
    """The worker's own video sessions whose call is open now, with a citizen on the worker's caseload."""
    access.require_role(who, StaffRole.WORKER)
    visible = access.visible_citizens(who).subquery()
    stmt = (
        select(Appointment)
        .where(
            Appointment.municipality_id == who.municipality_id,
            Appointment.worker_id == who.id,
            *calls.open_video_calls(settings, now),
            exists().where(visible.c.id == Appointment.citizen_id),
        )
        .order_by(Appointment.starts_at)
    )
    return list(await db.scalars(stmt))


async def for_worker(
    db: AsyncSession,
    who: Actor,
    settings: Settings,
    now: dt.datetime,
    members: Members,
    wall: Callable[[], float] = time.time,
) -> list[Waiting]:
    """Everyone waiting to be let into the worker's open calls, longest waiting first. Which calls are open is the
    app's rule (its clock, ``now``); how long someone has waited is told by the wall clock (``wall``), the one the
    signalling rooms stamp places with (docs/architecture.md, "Two clocks")."""
    wall_now = wall()
    found: list[Waiting] = []
    for appointment in await open_calls(db, who, settings, now):
        places = [p for p in await members(calls.room_name(appointment.id)) if p.state == WAITING and p.role != HOST]
        if not places:
            continue
        since = [dt.datetime.fromtimestamp(p.since, dt.UTC) for p in places]
        await _audit_once(db, who, appointment, min(since))
        citizen_pid = calls.participant_id(calls.PrincipalKind.CITIZEN, appointment.citizen_id)
        found.extend(
            Waiting(
                appointment_id=appointment.id,
                participant=p.id,
                name=p.name,
                citizen=p.id == citizen_pid,
                since=at,
                waited_seconds=max(0, int(wall_now - p.since)),
            )
            for p, at in zip(places, since, strict=True)
        )
    return sorted(found, key=lambda w: w.since)


async def _audit_once(db: AsyncSession, who: Actor, appointment: Appointment, since: dt.datetime) -> None:
    """One entry per viewer and appointment for each time somebody starts waiting (a poll every few seconds would
    otherwise flood the access log with the same read). Entries are stamped with the wall clock, like ``since``."""
    already = await db.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.citizen_id == appointment.citizen_id,
            AuditEntry.actor_kind == who.kind,
            AuditEntry.actor_id == who.id,
            AuditEntry.action == ACTION,
            AuditEntry.object_id == appointment.id,
            AuditEntry.at >= since,
        )
        .limit(1)
    )
    if already is None:
        event = audit.AuditEvent(
            ACTION,
            audit.Purpose.SUPPORT,
            citizen_id=appointment.citizen_id,
            object_type="appointment",
            object_id=appointment.id,
        )
        await audit.record(db, who, event)
