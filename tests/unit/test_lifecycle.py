"""The appointment's state machine (vbostotte/booking/lifecycle.py): the table holds exactly the changes the
product allows, every (state, change) pair is allowed or refused as it says, and every service that changes an
appointment — the citizen's answers, cancelling, moving, attendance, releasing the interpreter, the call marking
attendance — obeys it against the real database: an allowed change lands in the state the table names, a refused
one raises ``ChangeRefused`` (409) and writes nothing, not even a message to the interpreter."""

from __future__ import annotations

import datetime as dt
import pathlib
import re

import pytest
from sqlalchemy import delete, func, select

from signaling.types import Event, Participant
from vbostotte.actors import Actor
from vbostotte.booking import availability, booking, lifecycle
from vbostotte.booking.lifecycle import Change as C
from vbostotte.booking.lifecycle import State as S
from vbostotte.calls import calls
from vbostotte.errors import Conflict
from vbostotte.i18n import catalogues
from vbostotte.models import (
    Appointment,
    AppointmentKind,
    Attendance,
    CallEvent,
    CitizenResponse,
    OutboxMessage,
    WorkingHours,
)

from support import reread

NOW = dt.datetime(2026, 11, 23, 7, 0, tzinfo=dt.UTC)  # the world's clock: Monday 08:00 in Copenhagen
DOCS = pathlib.Path(__file__).parents[2] / "docs" / "appointments.md"

# What the product allows, written out by hand (not read from the table): the table must say exactly this.
ANSWERS = {C.CONFIRM, C.DECLINE, C.CANCEL_BY_CITIZEN}
ACTIVE = {C.CANCEL_BY_WORKER, C.MOVE, C.CITIZEN_JOINED, C.RELEASE_INTERPRETER, C.REMIND, C.INVITE_INTERPRETER}
RECORD = {C.RECORD_ATTENDED, C.RECORD_NO_SHOW, C.RECORD_CALLED_OFF}
REPEAT_CANCEL = {C.CANCEL_BY_WORKER, C.CANCEL_BY_CITIZEN}
EXPECTED: dict[S, set[C]] = {
    S.BOOKED: ANSWERS | ACTIVE,
    S.CONFIRMED: ANSWERS | ACTIVE,
    S.OPEN: ACTIVE | RECORD,  # the call is open: the citizen no longer answers, the worker may record
    S.PAST: {C.CITIZEN_JOINED} | RECORD,  # over: only how it went can be recorded (a late joiner attended)
    S.HELD: {C.CITIZEN_JOINED, C.RECORD_ATTENDED, C.RECORD_NO_SHOW},  # never cancelled, by anyone
    S.NO_SHOW: RECORD,
    S.CALLED_OFF: RECORD,
    S.DECLINED: REPEAT_CANCEL,
    S.CANCELLED_BY_CITIZEN: REPEAT_CANCEL,
    S.CANCELLED_BY_WORKER: REPEAT_CANCEL,
}
ASKED = [c for c in C if c not in lifecycle.CLOCK_CHANGES]


def arranged(state: S, now: dt.datetime = NOW) -> dict:
    """An appointment's columns putting it in ``state`` at ``now`` (with an interpreter, so notices can show)."""
    later = now + dt.timedelta(days=2)
    starts = {
        S.BOOKED: later,
        S.CONFIRMED: later,
        S.OPEN: now + dt.timedelta(minutes=10),
        S.PAST: now - dt.timedelta(hours=2),
        S.HELD: now - dt.timedelta(minutes=10),
        S.NO_SHOW: now - dt.timedelta(minutes=10),
        S.CALLED_OFF: now - dt.timedelta(minutes=10),
    }.get(state, later)
    columns = {
        "starts_at": starts,
        "ends_at": starts + dt.timedelta(minutes=45),
        "response": CitizenResponse.CONFIRMED.value if state == S.CONFIRMED else CitizenResponse.NONE.value,
        "attendance": {
            S.HELD: Attendance.ATTENDED.value,
            S.NO_SHOW: Attendance.NO_SHOW.value,
            S.CALLED_OFF: Attendance.CANCELLED_LATE.value,
        }.get(state),
        "interpreter_name": "Tina Tolk",
        "interpreter_language": "arabisk",
        "interpreter_email": "tina@tolke.example.dk",
    }
    if state in lifecycle.CANCELLED:
        columns |= {
            "cancelled_at": now - dt.timedelta(hours=1),
            "cancelled_by": "worker" if state == S.CANCELLED_BY_WORKER else "citizen",
            "response": CitizenResponse.CANT_COME.value if state == S.DECLINED else CitizenResponse.NONE.value,
        }
    return columns


# --- The table --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("state", list(S))
def test_the_table_allows_exactly_what_the_product_allows(state):
    assert {c for (s, c) in lifecycle.TRANSITIONS if s == state and c in ASKED} == EXPECTED[state]


@pytest.mark.parametrize("state", list(S))
def test_an_appointment_is_read_as_the_state_it_is_in(state):
    assert lifecycle.state_of(Appointment(**arranged(state)), NOW) == state


@pytest.mark.parametrize(("state", "change"), [(s, c) for s in S for c in ASKED])
def test_every_change_in_every_state_is_allowed_or_refused_as_the_table_says(state, change):
    appointment = Appointment(**arranged(state))
    if change in EXPECTED[state]:
        assert lifecycle.check(appointment, change, NOW) == (state, lifecycle.TRANSITIONS[(state, change)])
    else:
        with pytest.raises(lifecycle.ChangeRefused) as refused:
            lifecycle.check(appointment, change, NOW)
        assert isinstance(refused.value, Conflict)  # 409
        danish = catalogues()["da"].gettext(refused.value.message)
        assert danish != refused.value.message, f"no Danish for {refused.value.message!r}"


@pytest.mark.parametrize("state", list(S))
def test_a_page_is_offered_what_is_allowed_but_a_repeated_cancellation(state):
    offered = lifecycle.allowed(Appointment(**arranged(state)), NOW)
    assert offered == EXPECTED[state] - (REPEAT_CANCEL if state in lifecycle.CANCELLED else set())


def test_where_the_changes_lead():
    t = lifecycle.TRANSITIONS
    assert t[(S.BOOKED, C.CONFIRM)] == S.CONFIRMED and t[(S.CONFIRMED, C.DECLINE)] == S.DECLINED
    assert t[(S.OPEN, C.MOVE)] == S.BOOKED  # moved: booked again, the citizen is asked again
    assert t[(S.OPEN, C.CITIZEN_JOINED)] == S.HELD and t[(S.PAST, C.RECORD_NO_SHOW)] == S.NO_SHOW
    assert t[(S.BOOKED, C.OPENS)] == S.OPEN and t[(S.OPEN, C.ENDS)] == S.PAST
    assert all(t[(s, c)] == s for s in lifecycle.CANCELLED for c in REPEAT_CANCEL)  # asking again changes nothing


def test_the_time_moves_an_appointment_through_its_states():
    appointment = Appointment(**arranged(S.BOOKED))
    starts = appointment.starts_at
    assert lifecycle.state_of(appointment, starts - dt.timedelta(minutes=16)) == S.BOOKED
    assert lifecycle.state_of(appointment, starts - dt.timedelta(minutes=15)) == S.OPEN
    assert lifecycle.state_of(appointment, starts - dt.timedelta(minutes=5), opens_minutes=3) == S.BOOKED
    assert lifecycle.state_of(appointment, appointment.ends_at) == S.PAST


def test_the_citizen_is_prompted_for_only_while_it_is_still_to_take_place():
    appointment = Appointment(**arranged(S.OPEN))
    assert lifecycle.needs_follow_up(appointment, 180, NOW)
    appointment.attendance = Attendance.ATTENDED.value
    assert not lifecycle.needs_follow_up(appointment, 180, NOW)


def test_the_diagram_in_the_docs_is_the_table():
    text = DOCS.read_text()
    diagram = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert diagram is not None and diagram.group(1).strip() == lifecycle.mermaid().strip()


# --- Every service obeys it, on the real database ---------------------------------------------------------------

MOVED_TO = availability.to_utc(dt.date(2026, 11, 26), 13 * 60)  # a Thursday afternoon in the working hours


def citizen_of(world) -> Actor:
    return Actor(kind="citizen", id=world.a.citizen.id, municipality_id=world.a.id, role="citizen")


async def _confirm(db, world, a):
    await booking.respond(db, citizen_of(world), a, CitizenResponse.CONFIRMED, NOW)


async def _decline(db, world, a):
    await booking.respond(db, citizen_of(world), a, CitizenResponse.CANT_COME, NOW)


async def _cancel_by_citizen(db, world, a):
    await booking.cancel(db, citizen_of(world), a, "Syg", NOW)


async def _cancel_by_worker(db, world, a):
    await booking.cancel(db, world.a.worker.actor, a, "Syg", NOW)


async def _move(db, world, a):
    await booking.reschedule(db, world.a.worker.actor, a, MOVED_TO, 45, "Flyttet", NOW)


def _record(value: Attendance):
    async def record(db, world, a):
        await booking.record_attendance(db, world.a.worker.actor, a, value, NOW)

    return record


async def _release(db, world, a):
    await booking.release_interpreter(db, world.a.worker.actor, a, NOW)


async def _citizen_joins(db, world, a):
    """The call: the citizen joins the appointment's room (a session-log event, as the signalling server emits)."""
    who = Participant(id=f"citizen-{world.a.citizen.id}", room=calls.room_name(a), role="guest", name="C")
    await calls.record_events(db, [Event("joined", who, {"waited": False}, NOW.timestamp())])
    # The call asks nobody: where the table refuses, it just does not mark her as attended (nor touch the rest).
    marked = await db.get(Appointment, a)
    if marked is None or marked.attendance != Attendance.ATTENDED.value:
        raise lifecycle.ChangeRefused(S.PAST, C.CITIZEN_JOINED)


SERVICES = {
    C.CONFIRM: _confirm,
    C.DECLINE: _decline,
    C.CANCEL_BY_CITIZEN: _cancel_by_citizen,
    C.CANCEL_BY_WORKER: _cancel_by_worker,
    C.MOVE: _move,
    C.RECORD_ATTENDED: _record(Attendance.ATTENDED),
    C.RECORD_NO_SHOW: _record(Attendance.NO_SHOW),
    C.RECORD_CALLED_OFF: _record(Attendance.CANCELLED_LATE),
    C.RELEASE_INTERPRETER: _release,
    C.CITIZEN_JOINED: _citizen_joins,
}
COLUMNS = ("starts_at", "cancelled_at", "cancelled_by", "response", "attendance", "interpreter_released_at", "sequence")


@pytest.fixture
async def hours(world, db):
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    await db.commit()
    return world


async def _outbox(db, appointment_id: int) -> int:
    stmt = select(func.count()).select_from(OutboxMessage).where(OutboxMessage.appointment_id == appointment_id)
    return (await db.execute(stmt)).scalar_one()


@pytest.mark.parametrize("change", list(SERVICES))
async def test_each_service_changes_only_what_the_table_allows(hours, db, change):
    world = hours
    wrong = []
    for state in S:
        a = Appointment(
            municipality_id=world.a.id,
            citizen_id=world.a.citizen.id,
            worker_id=world.a.worker.id,
            kind=AppointmentKind.VIDEO,
            created_at=NOW - dt.timedelta(days=7),
            **arranged(state),
        )
        db.add(a)
        await db.commit()
        await db.refresh(a)
        appointment_id, before = a.id, {c: getattr(a, c) for c in COLUMNS}
        messages = await _outbox(db, appointment_id)
        try:
            await SERVICES[change](db, world, appointment_id)
            await db.commit()
            outcome = "allowed"
        except lifecycle.ChangeRefused:
            await db.rollback()
            outcome = "refused"
        await reread(db)
        after = await db.get(Appointment, appointment_id)
        assert after is not None
        expected = lifecycle.TRANSITIONS.get((state, change))
        if (expected is None) != (outcome == "refused"):
            wrong.append(f"{state}: {outcome}")
        elif expected is None or (expected == state and change in lifecycle.CANCEL_CHANGES):
            # Refused, or a repeated cancellation: nothing written, nobody told.
            if {c: getattr(after, c) for c in COLUMNS} != before or await _outbox(db, appointment_id) != messages:
                wrong.append(f"{state}: {outcome} but changed")
        elif lifecycle.state_of(after, NOW) != expected:
            wrong.append(f"{state}: went to {lifecycle.state_of(after, NOW)}, not {expected}")
        await db.execute(delete(OutboxMessage).where(OutboxMessage.appointment_id == appointment_id))
        await db.execute(delete(CallEvent).where(CallEvent.appointment_id == appointment_id))
        await db.execute(delete(Appointment).where(Appointment.id == appointment_id))
        await db.commit()
    assert not wrong, wrong
