"""Reading appointments (booking itself is its own issue): what a citizen and a worker see."""

from __future__ import annotations

import datetime as dt
import functools

from sqlalchemy import Select, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload, selectinload

from vbostotte import audit
from vbostotte.access import Rule, require_role, visibility, visible_citizen_ids_by_rule, visible_citizens
from vbostotte.actors import Actor
from vbostotte.errors import NotFound
from vbostotte.models import Appointment, Citizen, StaffRole


@functools.cache
def _upcoming_for_citizen_statement() -> Select[Appointment]:
    """Built once, the worker read in the same statement: the citizen's start page shows it on every view."""
    return (
        select(Appointment)
        .options(joinedload(Appointment.worker))
        .where(
            Appointment.citizen_id == bindparam("citizen_id"),
            Appointment.municipality_id == bindparam("municipality_id"),
            Appointment.ends_at > bindparam("now"),
            Appointment.cancelled_at.is_(None),
        )
        .order_by(Appointment.starts_at)
        .limit(bindparam("limit"))
    )


async def upcoming_for_citizen(db: AsyncSession, actor: Actor, now: dt.datetime, limit: int = 10) -> list[Appointment]:
    """The citizen's own coming appointments (with the worker's name)."""
    values = {"citizen_id": actor.id, "municipality_id": actor.municipality_id, "now": now, "limit": limit}
    result = list((await db.execute(_upcoming_for_citizen_statement(), values)).scalars())
    await audit.record(db, actor, audit.AuditEvent("appointment.list", audit.Purpose.SELF_SERVICE, citizen_id=actor.id))
    return result


@functools.cache
def _worker_calendar_statement(rule: Rule) -> Select[Appointment, Citizen]:
    """Built once per form of the rule (``access.visibility``; the worker is the actor): the worker's week is the
    page a worker opens most."""
    return (
        select(Appointment, Citizen)
        .join(Citizen, Citizen.id == Appointment.citizen_id)
        .where(
            Appointment.worker_id == bindparam("visible_actor_id"),
            Appointment.citizen_id.in_(visible_citizen_ids_by_rule(rule)),
            Appointment.starts_at >= bindparam("start"),
            Appointment.starts_at < bindparam("end"),
        )
        .order_by(Appointment.starts_at)
    )


async def worker_calendar(
    db: AsyncSession, actor: Actor, start: dt.datetime, end: dt.datetime
) -> list[tuple[Appointment, Citizen]]:
    """The worker's appointments starting in [start, end), cancelled ones included, with the citizen."""
    require_role(actor, StaffRole.WORKER)
    rule, values = visibility(actor)
    result = await db.execute(_worker_calendar_statement(rule), {**values, "start": start, "end": end})
    rows = [(a, c) for a, c in result.all()]
    await audit.record(db, actor, audit.AuditEvent("appointment.list", audit.Purpose.CASELOAD_OVERVIEW))
    return rows


async def upcoming_for_citizen_as_staff(
    db: AsyncSession, actor: Actor, citizen: Citizen, now: dt.datetime
) -> list[Appointment]:
    """A citizen's coming appointments, for staff already authorised for that citizen."""
    stmt = (
        select(Appointment)
        .options(selectinload(Appointment.worker))
        .where(Appointment.citizen_id == citizen.id, Appointment.ends_at > now, Appointment.cancelled_at.is_(None))
        .order_by(Appointment.starts_at)
        .limit(20)
    )
    return list((await db.execute(stmt)).scalars())


async def in_range_for_staff(db: AsyncSession, actor: Actor, start: dt.datetime, end: dt.datetime) -> list[Appointment]:
    """Appointments (cancelled included) of the citizens the actor may see, starting in [start, end)."""
    require_role(actor, StaffRole.WORKER, StaffRole.SUPERVISOR)
    citizens = visible_citizens(actor).subquery()
    stmt = (
        select(Appointment)
        .where(
            Appointment.citizen_id.in_(select(citizens.c.id)),
            Appointment.starts_at >= start,
            Appointment.starts_at < end,
        )
        .order_by(Appointment.starts_at)
        .limit(2000)
    )
    result = list((await db.execute(stmt)).scalars())
    purpose = audit.Purpose.SUPPORT if actor.has_role(StaffRole.WORKER) else audit.Purpose.SUPERVISION
    await audit.record(db, actor, audit.AuditEvent("appointment.list", purpose))
    return result


async def by_id(db: AsyncSession, appointment_id: int) -> Appointment:
    """An appointment the caller may already see (the one a note was written after); NotFound if there is none."""
    appointment = await db.get(Appointment, appointment_id)
    if appointment is None:
        raise NotFound()
    return appointment
