"""Asking for a call, "I'd like to talk to you" ("Jeg vil gerne tale med dig"): a citizen asks for a call with one
tap, between appointments, and the worker answers by calling at once (:mod:`vbostotte.calls.call_now`) or proposing
a time (a booked appointment the citizen answers as any other).

* Only inside a worker's published message hours (``availability.message_hours``): the request goes to the citizen's
  worker answering now (the first by name when several are). Outside them the page shows the crisis line instead,
  and a request is refused (409).
* At most ``DAILY_LIMIT`` a day (Copenhagen day) per citizen.
* Nobody but the worker it went to, and the workers of the citizen's caseload with access (``access.visible_citizens``),
  sees that a request was made: supervisors and administrators see only counts in the statistics.
* Asking, being shown a request and answering it are audit-logged.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.booking import availability
from vbostotte.errors import Conflict, NotFound, PermissionDenied
from vbostotte.i18n import N_, TZ
from vbostotte.identity import citizens
from vbostotte.models import Appointment, AuditEntry, CallRequest, CallRequestAnswer, Caseload, Citizen, StaffRole

DAILY_LIMIT = 3
OPEN_HOURS = 12  # an unanswered request older than this is no longer shown as waiting
ASK, SHOWN, ANSWER = "call_request.create", "call_request.shown", "call_request.answer"


class NobodyAnswering(Conflict):
    message = N_("Nobody can answer right now. Please see when you can write, or call the crisis line.")


class DailyLimit(Conflict):
    message = N_("You have already asked today. Your support worker will get back to you.")


class AlreadyAnswered(Conflict):
    message = N_("This request has already been answered.")


@dataclass(frozen=True)
class Pending:
    """An unanswered request shown to a worker."""

    id: int
    citizen_id: int
    name: str  # the citizen's first name
    created_at: dt.datetime


def _day_start(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


async def answering_worker(db: AsyncSession, citizen: Citizen, now: dt.datetime) -> int | None:
    """The citizen's worker who answers messages now, if any."""
    workers = await citizens.workers_of(db, citizen)
    hours = await availability.message_hours(db, [w.id for w in workers])
    return next((w.id for w in workers if w.active and availability.answering_now(hours[w.id], now)), None)


async def asked_today(db: AsyncSession, citizen_id: int, now: dt.datetime) -> int:
    return (
        await db.scalar(
            select(func.count())
            .select_from(CallRequest)
            .where(CallRequest.citizen_id == citizen_id, CallRequest.created_at >= _day_start(now))
        )
        or 0
    )


async def ask(db: AsyncSession, who: Actor, now: dt.datetime) -> CallRequest:
    """The citizen's one tap: a request to the worker answering now."""
    if not who.is_citizen:
        raise PermissionDenied()
    citizen = await citizens.by_id(db, who.known_id)
    worker_id = await answering_worker(db, citizen, now)
    if worker_id is None:
        raise NobodyAnswering()
    if await asked_today(db, citizen.id, now) >= DAILY_LIMIT:
        raise DailyLimit()
    request = CallRequest(
        municipality_id=citizen.municipality_id, citizen_id=citizen.id, worker_id=worker_id, created_at=now
    )
    db.add(request)
    await db.flush()
    event = audit.AuditEvent(
        ASK, audit.Purpose.SELF_SERVICE, citizen_id=citizen.id, object_type="call_request", object_id=request.id
    )
    await audit.record(db, who, event)
    return request


async def pending_for_worker(db: AsyncSession, who: Actor, now: dt.datetime) -> list[Pending]:
    """The unanswered requests made to this worker (of citizens still on their caseload), oldest first. Audited
    once per request and viewer (the waiting notice asks every few seconds)."""
    access.require_role(who, StaffRole.WORKER)
    visible = access.visible_citizens(who).subquery()
    stmt = (
        select(CallRequest, Citizen.name)
        .join(Citizen, Citizen.id == CallRequest.citizen_id)
        .where(
            CallRequest.worker_id == who.known_id,
            CallRequest.answered_at.is_(None),
            CallRequest.created_at >= now - dt.timedelta(hours=OPEN_HOURS),
            exists().where(visible.c.id == CallRequest.citizen_id),
        )
        .order_by(CallRequest.created_at)
    )
    found = []
    for request, name in (await db.execute(stmt)).all():
        await _audit_shown(db, who, request)
        found.append(Pending(request.id, request.citizen_id, name.split()[0], request.created_at))
    return found


async def _audit_shown(db: AsyncSession, who: Actor, request: CallRequest) -> None:
    already = await db.scalar(
        select(AuditEntry.id)
        .where(
            AuditEntry.actor_id == who.known_id,
            AuditEntry.actor_kind == who.kind,
            AuditEntry.action == SHOWN,
            AuditEntry.object_id == request.id,
        )
        .limit(1)
    )
    if already is None:
        event = audit.AuditEvent(
            SHOWN,
            audit.Purpose.SUPPORT,
            citizen_id=request.citizen_id,
            object_type="call_request",
            object_id=request.id,
        )
        await audit.record(db, who, event)


async def request_for(db: AsyncSession, who: Actor, request_id: int) -> CallRequest:
    """A request, for the worker it went to or a worker of the citizen's caseload (others: not found)."""
    access.require_role(who, StaffRole.WORKER)
    request = await db.get(CallRequest, request_id)
    if request is None or request.municipality_id != who.known_municipality_id:
        raise NotFound()
    on_caseload = await db.get(Caseload, (who.known_id, request.citizen_id))
    if request.worker_id != who.known_id and on_caseload is None:
        raise NotFound()
    if on_caseload is None:  # the citizen has left the worker's caseload since
        raise NotFound()
    return request


async def answer(
    db: AsyncSession, who: Actor, request_id: int, how: CallRequestAnswer, appointment: Appointment, now: dt.datetime
) -> CallRequest:
    """Record how the request was answered: a call at once, or a proposed time (the appointment either way)."""
    request = await request_for(db, who, request_id)
    if request.answered_at is not None:
        raise AlreadyAnswered()
    if appointment.citizen_id != request.citizen_id:
        raise NotFound()
    request.answered_at, request.answer, request.appointment_id = now, how.value, appointment.id
    await db.flush()
    event = audit.AuditEvent(
        ANSWER, audit.Purpose.SUPPORT, citizen_id=request.citizen_id, object_type="call_request", object_id=request.id
    )
    await audit.record(db, who, event)
    return request
