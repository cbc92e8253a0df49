"""Who may join which call and when: single-use, short-lived join tickets, and the call events kept."""

from __future__ import annotations

import datetime as dt

import pytest

from signaling import Event, Participant
from vbostotte.actors import Actor
from vbostotte.calls import call_access, calls
from vbostotte.errors import NotFound
from vbostotte.models import Appointment, CallEvent

from support import reread, session_hash


def citizen_actor(world) -> Actor:
    return Actor(kind="citizen", id=world.a.citizen.id, municipality_id=world.a.id, role="citizen")


async def issue(db, actor: Actor, appointment_id: int, settings, now) -> str:
    """A ticket asked for from a signed-in session of ``actor``."""
    return await calls.issue_ticket(
        db, actor, appointment_id, settings, now, session_hash=await session_hash(db, actor, settings, now)
    )


@pytest.fixture
def at_start(world, clock):
    """The clock ten minutes before the citizen's video session (the room opens 15 minutes before)."""
    clock.advance(days=1, minutes=-10)
    return world


async def test_the_worker_hosts_and_the_citizen_is_a_guest_each_ticket_once(at_start, db, settings, clock):
    world = at_start
    appointment_id = world.a.citizen.appointment_id
    worker_ticket = await issue(db, world.a.worker.actor, appointment_id, settings, clock())
    citizen_ticket = await issue(db, citizen_actor(world), appointment_id, settings, clock())
    await db.commit()
    host = await call_access.redeem(db, worker_ticket, settings, clock())
    guest = await call_access.redeem(db, citizen_ticket, settings, clock())
    assert host == calls.Joiner(f"staff-{world.a.worker.id}", f"appointment-{appointment_id}", "host", "Worker")
    assert guest == calls.Joiner(f"citizen-{world.a.citizen.id}", f"appointment-{appointment_id}", "guest", "Citizen")
    assert await call_access.redeem(db, worker_ticket, settings, clock()) is None  # replayed


async def test_tickets_expire_and_the_room_has_a_window(world, db, settings, clock):
    appointment_id = world.a.citizen.appointment_id
    with pytest.raises(calls.CallNotOpen):
        await issue(db, world.a.worker.actor, appointment_id, settings, clock())  # a day early
    await db.rollback()
    clock.advance(days=1, minutes=-10)
    ticket = await issue(db, world.a.worker.actor, appointment_id, settings, clock())
    await db.commit()
    late = clock() + dt.timedelta(seconds=calls.TICKET_SECONDS + 1)
    assert await call_access.redeem(db, ticket, settings, late) is None
    clock.advance(minutes=10 + 45 + settings.call_closes_minutes + 1)  # past the planned end and the grace hour
    with pytest.raises(calls.CallNotOpen):
        await issue(db, world.a.worker.actor, appointment_id, settings, clock())


async def test_nobody_else_gets_a_ticket(at_start, db, settings, clock):
    world = at_start
    appointment_id = world.a.citizen.appointment_id
    other = Actor(kind="citizen", id=world.a.other_citizen.id, municipality_id=world.a.id, role="citizen")
    for actor in (world.a.other_worker.actor, world.b.worker.actor, other, world.a.supervisor.actor):
        with pytest.raises(NotFound):
            await issue(db, actor, appointment_id, settings, clock())
        await db.rollback()
    with pytest.raises(calls.NotAVideoSession):
        clock.advance(days=-2, minutes=10)  # the citizen's home visit yesterday is not a call
        await issue(db, world.a.worker.actor, world.a.citizen.past_appointment_id, settings, clock())


async def test_a_cancelled_appointment_stops_its_tickets(at_start, db, settings, clock):
    world = at_start
    ticket = await issue(db, citizen_actor(world), world.a.citizen.appointment_id, settings, clock())
    appointment = await db.get(Appointment, world.a.citizen.appointment_id)
    appointment.cancelled_at = clock()
    await db.commit()
    assert await call_access.redeem(db, ticket, settings, clock()) is None


async def test_events_are_kept_and_the_citizen_joining_fills_in_attendance(at_start, db, clock):
    world = at_start
    room = calls.room_name(world.a.citizen.appointment_id)
    worker = Participant(id=f"staff-{world.a.worker.id}", room=room, role="host", name="Worker")
    citizen = Participant(id=f"citizen-{world.a.citizen.id}", room=room, role="guest", name="Citizen")
    now = clock().timestamp()
    await calls.record_events(db, [Event("joined", worker, {"waited": False}, now), Event("waiting", citizen, {}, now)])
    await db.commit()
    assert (await db.get(Appointment, world.a.citizen.appointment_id)).attendance is None
    await calls.record_events(
        db, [Event("admitted", citizen, {"by": worker.id, "waited_seconds": 42, "x": [1]}, now + 42)]
    )
    await db.commit()
    await reread(db)
    assert (await db.get(Appointment, world.a.citizen.appointment_id)).attendance == "attended"
    events = await calls.events_of(db, world.a.citizen.appointment_id)
    assert [e.event for e in events] == ["joined", "waiting", "admitted"]
    assert events[2].details == {"by": f"staff-{world.a.worker.id}", "waited_seconds": 42}
    assert all(isinstance(e, CallEvent) for e in events)
    assert events[2].at - events[0].at == dt.timedelta(seconds=42)  # stamped when it happened, not when written
