"""Booking: book, respond, reschedule, cancel, attendance — each change checked by the appointment's state
machine (:mod:`vbostotte.booking.lifecycle`) before anything is written.

No double booking is enforced by the database (an exclusion constraint on PostgreSQL, triggers
on SQLite); this module checks first only to give a clear message, and maps the database's
refusal to the same message when two requests race.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.booking import availability, lifecycle
from vbostotte.errors import Conflict, InvalidInput, NotFound
from vbostotte.i18n import N_
from vbostotte.models import Appointment, AppointmentKind, Attendance, Caseload, CitizenResponse, StaffRole
from vbostotte.reminders import outbox

MIN_DURATION, MAX_DURATION = 15, 240
BOOKING_HORIZON = dt.timedelta(days=731)  # an appointment is booked (or moved) at most two years ahead


class SlotTaken(Conflict):
    message = N_("This time was just taken. Please choose another time.")


KEY_REUSED = N_("This key was already used for a different booking. Use a new key for a new booking.")


class KeyReused(InvalidInput):
    """An idempotency key sent again with a different request (the IETF idempotency-key draft: 422)."""

    def __init__(self) -> None:
        super().__init__({"Idempotency-Key": KEY_REUSED}, message=KEY_REUSED)


@dataclass(frozen=True)
class Interpreter:
    name: str
    language: str
    email: str | None = None
    phone: str | None = None


@dataclass(frozen=True)
class BookingRequest:
    citizen_id: int
    kind: AppointmentKind
    starts_at: dt.datetime  # UTC
    duration_minutes: int
    note_to_citizen: str | None = None
    interpreter: Interpreter | None = None
    idempotency_key: str | None = None
    worker_id: int | None = None  # default: the acting worker


def fingerprint(request: BookingRequest) -> str:
    """SHA-256 of the request in a canonical form (what was asked, not how the JSON was spelled): the idempotency
    key is stored with it, so a key sent again with another request is told apart from a retry."""
    fields = asdict(request)
    fields.pop("idempotency_key")
    fields["starts_at"] = request.starts_at.astimezone(dt.UTC).isoformat()
    fields["kind"] = str(request.kind)
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def _by_key(db: AsyncSession, actor: Actor, request: BookingRequest) -> Appointment | None:
    """The appointment this actor booked with the request's key before: the same request again (a retry) gets
    it back; another request with the same key is refused (:class:`KeyReused`). Rows from before keys had a
    fingerprint (none stored) are replayed as they were then."""
    stmt = select(Appointment).where(
        Appointment.created_by_id == actor.id, Appointment.idempotency_key == request.idempotency_key
    )
    existing = (await db.execute(stmt)).scalar_one_or_none()
    if existing is not None and existing.idempotency_hash not in (None, fingerprint(request)):
        raise KeyReused()
    return existing


async def _check_fits(
    db: AsyncSession,
    worker_id: int,
    starts: dt.datetime,
    ends: dt.datetime,
    now: dt.datetime,
    ignore_id: int | None = None,
) -> None:
    """Refuse a time in the past, outside working hours, or on top of another appointment."""
    if starts < now:  # a time starting this very minute is still offered by the booking page, and may be booked
        raise InvalidInput({"date": N_("Choose a time in the future.")})
    if starts > now + BOOKING_HORIZON:
        raise InvalidInput({"date": N_("Choose a time at most two years ahead.")})
    first_day = starts.astimezone(availability.TZ).date()
    free = await availability.availability(db, worker_id, first_day, 2)
    if not any(w_start <= starts and ends <= w_end for w_start, w_end in free.windows):
        raise InvalidInput({"time": N_("The worker is not available at this time.")})
    busy = free.busy
    if ignore_id is not None:
        own = await db.get(Appointment, ignore_id)
        if own is None:
            raise NotFound()
        busy = [b for b in busy if b != (own.starts_at, own.ends_at)]
    if any(b_start < ends and starts < b_end for b_start, b_end in busy):
        raise SlotTaken()


async def _booking_worker(db: AsyncSession, actor: Actor, citizen_id: int, worker_id: int | None) -> int:
    worker_id = worker_id or actor.known_id
    if await db.get(Caseload, (worker_id, citizen_id)) is None:
        raise InvalidInput({"worker_id": N_("Choose one of the options.")})
    return worker_id


async def book(db: AsyncSession, actor: Actor, request: BookingRequest, now: dt.datetime) -> Appointment:
    """Book an appointment; a retried request with the same idempotency key returns the first one."""
    appointment, _created = await book_or_replay(db, actor, request, now)
    return appointment


async def book_or_replay(
    db: AsyncSession, actor: Actor, request: BookingRequest, now: dt.datetime
) -> tuple[Appointment, bool]:
    """Like :func:`book`, also saying whether this call created the appointment (False: a replay)."""
    access.require_role(actor, StaffRole.WORKER)
    if request.idempotency_key and (existing := await _by_key(db, actor, request)):
        return existing, False
    citizen = await access.citizen_for(db, actor, request.citizen_id, "appointment.create", audit.Purpose.SUPPORT)
    if not MIN_DURATION <= request.duration_minutes <= MAX_DURATION:
        raise InvalidInput({"duration": N_("Choose a duration between 15 minutes and 4 hours.")})
    worker_id = await _booking_worker(db, actor, citizen.id, request.worker_id)
    try:
        appointment = await _insert(db, actor, citizen, worker_id, request, now)
    except SlotTaken:
        # A retry of a request that has just succeeded finds its own appointment in the way: return that.
        if request.idempotency_key and (existing := await _by_key(db, actor, request)):
            return existing, False
        raise
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "appointment.create",
            audit.Purpose.SUPPORT,
            citizen_id=citizen.id,
            object_type="appointment",
            object_id=appointment.id,
        ),
    )
    await outbox.plan_for_appointment(db, appointment, now)
    return appointment, True


async def _insert(
    db: AsyncSession, actor: Actor, citizen, worker_id: int, request: BookingRequest, now: dt.datetime
) -> Appointment:
    starts = request.starts_at
    ends = starts + dt.timedelta(minutes=request.duration_minutes)
    await _check_fits(db, worker_id, starts, ends, now)
    interpreter = request.interpreter
    appointment = Appointment(
        municipality_id=citizen.municipality_id,
        citizen_id=citizen.id,
        worker_id=worker_id,
        kind=request.kind,
        starts_at=starts,
        ends_at=ends,
        note_to_citizen=request.note_to_citizen,
        created_at=now,
        created_by_id=actor.id,
        idempotency_key=request.idempotency_key,
        idempotency_hash=fingerprint(request) if request.idempotency_key else None,
        response=CitizenResponse.NONE.value,
        interpreter_name=interpreter and interpreter.name,
        interpreter_language=interpreter and interpreter.language,
        interpreter_email=interpreter and interpreter.email,
        interpreter_phone=interpreter and interpreter.phone,
    )
    try:
        async with db.begin_nested():  # a savepoint: the database's refusal leaves the request usable
            db.add(appointment)
            await db.flush()
    except IntegrityError:  # the slot or the idempotency key was taken a moment ago by another request
        raise SlotTaken() from None
    return appointment


async def appointment_for(db: AsyncSession, actor: Actor, appointment_id: int, action: str) -> Appointment:
    """The appointment, if the actor may see its citizen (the citizen themself, or staff with access)."""
    appointment = await db.get(Appointment, appointment_id)
    purpose = audit.Purpose.SELF_SERVICE if actor.is_citizen else audit.Purpose.SUPPORT
    if appointment is None or appointment.municipality_id != actor.municipality_id:
        # Logged like a refused citizen read (one entry whether the id is unknown or another
        # municipality's, so the log shows probing without revealing which ids exist).
        event = audit.AuditEvent(action, purpose, audit.DENIED, object_type="appointment", object_id=appointment_id)
        raise NotFound().then(lambda fresh: audit.record(fresh, actor, event))
    await access.citizen_for(db, actor, appointment.citizen_id, action, purpose)
    return appointment


async def respond(
    db: AsyncSession,
    actor: Actor,
    appointment_id: int,
    response: CitizenResponse,
    now: dt.datetime,
    opens_minutes: int = lifecycle.DEFAULT_OPENS_MINUTES,
) -> Appointment:
    """The citizen confirms, or says "I can't come" (one tap), which cancels the appointment as the
    citizen's cancellation: reminders are dropped and the interpreter is told at once. Not once the call has
    opened (nor once it is cancelled, over or held: :mod:`vbostotte.booking.lifecycle`)."""
    if not actor.is_citizen:
        raise NotFound()
    appointment = await appointment_for(db, actor, appointment_id, "appointment.respond")
    change = lifecycle.Change.DECLINE if response == CitizenResponse.CANT_COME else lifecycle.Change.CONFIRM
    lifecycle.check(appointment, change, now, opens_minutes)
    appointment.response, appointment.responded_at = response.value, now
    if response == CitizenResponse.CANT_COME:
        appointment.cancelled_at, appointment.cancelled_by = now, "citizen"
        appointment.sequence += 1
        await outbox.drop_pending(db, appointment.id)
        await outbox.notify_interpreter(db, appointment, "interpreter_cant_come", now)
    await db.flush()
    return appointment


async def cancel(
    db: AsyncSession,
    actor: Actor,
    appointment_id: int,
    reason: str,
    now: dt.datetime,
    opens_minutes: int = lifecycle.DEFAULT_OPENS_MINUTES,
) -> Appointment:
    """Cancel (by the worker, or by the citizen on their own page). Pending reminders are dropped. Asking again
    changes nothing; a held session, or one that is over, is refused before anybody is told anything."""
    appointment = await appointment_for(db, actor, appointment_id, "appointment.cancel")
    change = lifecycle.Change.CANCEL_BY_CITIZEN if actor.is_citizen else lifecycle.Change.CANCEL_BY_WORKER
    state, to = lifecycle.check(appointment, change, now, opens_minutes)
    if to == state:  # already cancelled
        return appointment
    appointment.cancelled_at = now
    appointment.cancelled_by = "citizen" if actor.is_citizen else "worker"
    appointment.cancel_reason = reason
    appointment.sequence += 1
    await outbox.drop_pending(db, appointment.id)
    await outbox.notify_interpreter(db, appointment, "interpreter_cancelled", now)
    await db.flush()
    return appointment


async def reschedule(
    db: AsyncSession,
    actor: Actor,
    appointment_id: int,
    starts_at: dt.datetime,
    duration_minutes: int,
    reason: str,
    now: dt.datetime,
) -> Appointment:
    """Move an appointment; its reminders (the interpreter's too) are planned again for the new time."""
    access.require_role(actor, StaffRole.WORKER)
    appointment = await appointment_for(db, actor, appointment_id, "appointment.reschedule")
    lifecycle.check(appointment, lifecycle.Change.MOVE, now)
    if not MIN_DURATION <= duration_minutes <= MAX_DURATION:
        raise InvalidInput({"duration": N_("Choose a duration between 15 minutes and 4 hours.")})
    ends_at = starts_at + dt.timedelta(minutes=duration_minutes)
    await _check_fits(db, appointment.worker_id, starts_at, ends_at, now, ignore_id=appointment.id)
    try:
        async with db.begin_nested():
            appointment.starts_at, appointment.ends_at = starts_at, ends_at
            appointment.response, appointment.responded_at = CitizenResponse.NONE.value, None
            appointment.cancel_reason = reason
            appointment.sequence += 1
            await db.flush()
    except IntegrityError:
        raise SlotTaken() from None
    await outbox.drop_pending(db, appointment.id)
    # The interpreter hears of the move once, by the "moved" notice, not by a second invitation as well.
    await outbox.plan_for_appointment(db, appointment, now, invite_interpreter=False)
    await outbox.notify_interpreter(db, appointment, "interpreter_moved", now)
    return appointment


async def record_attendance(
    db: AsyncSession,
    actor: Actor,
    appointment_id: int,
    attendance: Attendance,
    now: dt.datetime,
    opens_minutes: int = lifecycle.DEFAULT_OPENS_MINUTES,
) -> Appointment:
    """The worker records how it went (from when the call opens); a held session is never made a cancelled one."""
    access.require_role(actor, StaffRole.WORKER)
    appointment = await appointment_for(db, actor, appointment_id, "appointment.attendance")
    lifecycle.check(appointment, lifecycle.ATTENDANCE_CHANGES[attendance], now, opens_minutes)
    appointment.attendance = attendance.value
    await db.flush()
    return appointment


async def release_interpreter(db: AsyncSession, actor: Actor, appointment_id: int, now: dt.datetime) -> Appointment:
    """The worker releases a booked interpreter (the citizen has not confirmed); the interpreter is told."""
    access.require_role(actor, StaffRole.WORKER)
    appointment = await appointment_for(db, actor, appointment_id, "appointment.release_interpreter")
    lifecycle.check(appointment, lifecycle.Change.RELEASE_INTERPRETER, now)
    if not appointment.has_interpreter or appointment.interpreter_released_at is not None:
        return appointment
    appointment.interpreter_released_at = now
    appointment.sequence += 1  # the interpreter's calendar takes the cancellation over the invitation
    await outbox.drop_interpreter_reminder(db, appointment.id, "interpreter released")
    await outbox.notify_interpreter(db, appointment, "interpreter_released", now)
    await db.flush()
    return appointment
