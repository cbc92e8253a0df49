"""Call now: a worker starts a video session with a citizen at once, from the citizen's page, between appointments.

The session is an appointment like any other (so the call, its tickets, its waiting room and the worker's records all
work as for a booked one), flagged ``unscheduled`` and beginning ``open`` in the state machine
(``lifecycle.BEGINNINGS``). It is refused (409, in Danish) unless the citizen is on the worker's own caseload (else
404, like every citizen read), has consented to video sessions, and the worker is within their working hours (not on
a holiday or an absence). It lasts ``CALL_NOW_MINUTES``, shortened to end before the worker's next appointment.

The citizen learns of it on their start page, which asks :func:`open_call_for_citizen` every few seconds, and on the
channels they agreed to (SMS, e-mail: ``outbox.plan_call_now``, never another).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.booking import availability, lifecycle
from vbostotte.calls import calls
from vbostotte.config import Settings
from vbostotte.errors import Conflict
from vbostotte.i18n import N_
from vbostotte.models import Appointment, AppointmentKind, CitizenResponse, StaffRole
from vbostotte.privacy import consent
from vbostotte.reminders import outbox

CALL_NOW_MINUTES = 30
MIN_MINUTES = 10  # shorter than this before the next appointment: refused
ACTION = "appointment.call_now"


class NoVideoConsent(Conflict):
    message = N_("The citizen has not agreed to video sessions. Record their consent first.")


class OutsideWorkingHours(Conflict):
    message = N_("You can call now only within your working hours.")


class Busy(Conflict):
    message = N_("You have another appointment now or in a few minutes.")


async def _existing(db: AsyncSession, worker_id: int, citizen_id: int, settings: Settings, now: dt.datetime):
    stmt = select(Appointment).where(
        Appointment.worker_id == worker_id,
        Appointment.citizen_id == citizen_id,
        Appointment.unscheduled.is_(True),
        Appointment.cancelled_at.is_(None),
        Appointment.ends_at > now,
    )
    return next((a for a in (await db.scalars(stmt)) if calls.is_open(a, settings, now)), None)


async def start(db: AsyncSession, who: Actor, citizen_id: int, settings: Settings, now: dt.datetime) -> Appointment:
    """Start (or, when pressed again, return the open) unscheduled video session with the citizen."""
    access.require_role(who, StaffRole.WORKER)
    citizen = await access.citizen_for(db, who, citizen_id, ACTION, audit.Purpose.SUPPORT)
    if (same := await _existing(db, who.known_id, citizen.id, settings, now)) is not None:
        return same
    if not await consent.has(db, citizen.id, consent.Kind.VIDEO.value):
        raise NoVideoConsent()
    local_day = now.astimezone(availability.TZ).date()
    free = await availability.availability(db, who.known_id, local_day, 1)
    if not any(start <= now < end for start, end in free.windows):
        raise OutsideWorkingHours()
    ends = now + dt.timedelta(minutes=CALL_NOW_MINUTES)
    if any(b_start <= now < b_end for b_start, b_end in free.busy):
        raise Busy()
    ends = min([ends, *(b_start for b_start, _ in free.busy if now < b_start < ends)])
    if ends - now < dt.timedelta(minutes=MIN_MINUTES):
        raise Busy()
    appointment = Appointment(
        municipality_id=citizen.municipality_id,
        citizen_id=citizen.id,
        worker_id=who.known_id,
        kind=AppointmentKind.VIDEO,
        starts_at=now,
        ends_at=ends,
        created_at=now,
        created_by_id=who.known_id,
        response=CitizenResponse.NONE.value,
        unscheduled=True,
    )
    lifecycle.begins(lifecycle.Change.CALL_NOW.value, appointment, now, settings.call_opens_minutes)
    try:
        async with db.begin_nested():
            db.add(appointment)
            await db.flush()
    except IntegrityError:  # another appointment took the time a moment ago
        raise Busy() from None
    event = audit.AuditEvent(
        ACTION, audit.Purpose.SUPPORT, citizen_id=citizen.id, object_type="appointment", object_id=appointment.id
    )
    await audit.record(db, who, event)
    await outbox.plan_call_now(db, appointment, now)
    return appointment


async def open_call_for_citizen(
    db: AsyncSession, who: Actor, settings: Settings, now: dt.datetime
) -> Appointment | None:
    """The citizen's own video session whose call is open now (booked or started at once), with its worker; for the
    start page's poll. Not audited at each poll: the citizen reads their own appointment."""
    stmt = (
        select(Appointment)
        .options(selectinload(Appointment.worker))
        .where(
            Appointment.citizen_id == who.known_id,
            Appointment.municipality_id == who.known_municipality_id,
            *calls.open_video_calls(settings, now),
        )
        .order_by(Appointment.starts_at)
    )
    return (await db.scalars(stmt.limit(1))).first()
