"""Booking rules against the real database: no double booking (enforced by the database), idempotent
creation, correct instants on daylight-saving days, and what is planned in the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, insert, select
from sqlalchemy.exc import IntegrityError

from vbostotte import db as database
from vbostotte.booking import availability, booking
from vbostotte.errors import InvalidInput
from vbostotte.models import (
    Appointment,
    AppointmentKind,
    CitizenResponse,
    OutboxMessage,
    WorkingHours,
)
from vbostotte.privacy import consent

from support import reread

UTC = dt.UTC
WEEKDAYS_8_TO_16 = [(d, 8 * 60, 16 * 60) for d in range(5)]


@pytest.fixture
async def bookable(world, db):
    """Both workers of municipality a work Monday–Friday 08–16; the citizen consents to e-mail and SMS reminders
    (as every world citizen does, see support.build_municipality)."""
    for worker in (world.a.worker, world.a.other_worker):
        db.add_all(
            [
                WorkingHours(staff_id=worker.id, kind="work", weekday=d, start_minute=s, end_minute=e)
                for d, s, e in WEEKDAYS_8_TO_16
            ]
        )
    await db.commit()
    return world


def at(year, month, day, hour, minute=0) -> dt.datetime:
    """A Copenhagen wall-clock time as UTC."""
    return availability.to_utc(dt.date(year, month, day), hour * 60 + minute)


def request_for(world, starts_at, **kw) -> booking.BookingRequest:
    return booking.BookingRequest(
        citizen_id=world.a.citizen.id,
        kind=kw.pop("kind", AppointmentKind.VIDEO),
        starts_at=starts_at,
        duration_minutes=kw.pop("duration_minutes", 45),
        **kw,
    )


async def _book(engine, actor, request, now):
    async with database.sessionmaker(engine)() as session, session.begin():
        return await booking.book(session, actor, request, now)


@pytest.fixture
async def app_engine(database_url):
    engine = database.create_engine(database_url)  # like the app's: SQLite writers serialised
    yield engine
    await engine.dispose()


async def test_fifty_concurrent_attempts_book_one_slot_once(bookable, app_engine, clock, db):
    world = bookable
    slot = at(2026, 11, 25, 10)
    results = await asyncio.gather(
        *(_book(app_engine, world.a.worker.actor, request_for(world, slot), clock()) for _ in range(50)),
        return_exceptions=True,
    )
    created = [r for r in results if isinstance(r, Appointment)]
    taken = [r for r in results if isinstance(r, booking.SlotTaken)]
    assert len(created) == 1 and len(taken) == 49, [
        type(r) for r in results if not isinstance(r, (Appointment, booking.SlotTaken))
    ]
    await reread(db)
    assert (
        await db.execute(select(func.count()).select_from(Appointment).where(Appointment.starts_at == slot))
    ).scalar_one() == 1


async def test_the_database_itself_refuses_an_overlapping_appointment(bookable, db, clock):
    world = bookable
    row = dict(
        municipality_id=world.a.id,
        citizen_id=world.a.citizen.id,
        worker_id=world.a.worker.id,
        kind="video",
        starts_at=at(2026, 11, 26, 9),
        ends_at=at(2026, 11, 26, 10),
        created_at=clock(),
        response="none",
    )
    await db.execute(insert(Appointment).values(**row))
    await db.commit()
    with pytest.raises(IntegrityError):
        await db.execute(
            insert(Appointment).values(
                **{**row, "starts_at": at(2026, 11, 26, 9, 30), "ends_at": at(2026, 11, 26, 10, 30)}
            )
        )
    await db.rollback()
    # Back to back is fine, and so is the same time once the first is cancelled.
    await db.execute(
        insert(Appointment).values(**{**row, "starts_at": at(2026, 11, 26, 10), "ends_at": at(2026, 11, 26, 11)})
    )
    await db.commit()


async def test_the_same_idempotency_key_ten_times_gives_one_appointment(bookable, app_engine, clock, db):
    world = bookable
    request = request_for(world, at(2026, 11, 27, 13), idempotency_key="form-7f3a")
    results = await asyncio.gather(*(_book(app_engine, world.a.worker.actor, request, clock()) for _ in range(10)))
    assert len({a.id for a in results}) == 1
    await reread(db)
    assert (
        await db.execute(
            select(func.count()).select_from(Appointment).where(Appointment.idempotency_key == "form-7f3a")
        )
    ).scalar_one() == 1


@pytest.mark.parametrize(
    "local, expected_utc",
    [
        # Spring change, Monday 30 March 2026 is a normal day; the Sunday before is the change day.
        ((2026, 3, 30, 9), dt.datetime(2026, 3, 30, 7, 0, tzinfo=UTC)),  # CEST, UTC+2
        ((2026, 3, 27, 9), dt.datetime(2026, 3, 27, 8, 0, tzinfo=UTC)),  # CET, UTC+1 (Friday before)
        ((2026, 10, 26, 9), dt.datetime(2026, 10, 26, 8, 0, tzinfo=UTC)),  # Monday after the autumn change: CET
        ((2026, 10, 23, 9), dt.datetime(2026, 10, 23, 7, 0, tzinfo=UTC)),  # Friday before: CEST
    ],
)
def test_local_times_become_the_right_utc_instants(local, expected_utc):
    assert at(*local) == expected_utc


def test_a_time_skipped_by_the_spring_change_is_refused_and_the_repeated_one_is_summer_time():
    with pytest.raises(availability.NonexistentLocalTime) as refused:
        at(2026, 3, 29, 2, 30)
    assert "does not exist" in refused.value.errors["time"]
    assert at(2026, 10, 25, 2, 30) == dt.datetime(2026, 10, 25, 0, 30, tzinfo=UTC)


async def test_booking_on_the_change_days_lands_at_the_right_instants(world, db, clock):
    """Sunday working hours on both change days: 10:00 local is 08:00 UTC in summer, 09:00 UTC in winter."""
    db.add(WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=6, start_minute=8 * 60, end_minute=12 * 60))
    await db.commit()
    clock.now = dt.datetime(2026, 3, 1, tzinfo=UTC)
    spring = await booking.book(db, world.a.worker.actor, request_for(world, at(2026, 3, 29, 10)), clock())
    autumn = await booking.book(db, world.a.worker.actor, request_for(world, at(2026, 10, 25, 10)), clock())
    await db.commit()
    assert spring.starts_at == dt.datetime(2026, 3, 29, 8, 0, tzinfo=UTC)
    assert autumn.starts_at == dt.datetime(2026, 10, 25, 9, 0, tzinfo=UTC)
    assert autumn.ends_at - autumn.starts_at == dt.timedelta(minutes=45)


async def test_outside_working_hours_holidays_and_the_past_are_refused(bookable, db, clock):
    world, actor = bookable, bookable.a.worker.actor
    for starts, field in (
        (at(2026, 11, 25, 17), "time"),  # after hours
        (at(2026, 11, 28, 10), "time"),  # Saturday
        (at(2026, 12, 25, 10), "time"),  # Christmas Day (a Friday)
        (at(2026, 11, 20, 10), "date"),
    ):  # the past
        with pytest.raises(InvalidInput) as refused:
            await booking.book(db, actor, request_for(world, starts), clock())
        assert field in refused.value.errors
        await db.rollback()


async def test_free_slots_skip_booked_time_and_follow_local_hours(bookable, db, clock):
    world = bookable
    await booking.book(db, world.a.worker.actor, request_for(world, at(2026, 11, 24, 10)), clock())
    await db.commit()
    free = await availability.availability(db, world.a.worker.id, dt.date(2026, 11, 24), 1)
    slots = availability.free_slots(free.windows, free.busy, dt.timedelta(minutes=45), clock())
    # The world already has this worker with the citizen 08:00–08:45 that day.
    assert slots[0] == at(2026, 11, 24, 8, 45) and slots[-1] == at(2026, 11, 24, 15, 15)
    assert at(2026, 11, 24, 9, 30) not in slots and at(2026, 11, 24, 10) not in slots
    assert at(2026, 11, 24, 9, 15) in slots and at(2026, 11, 24, 10, 45) in slots


async def test_reminders_are_planned_per_channel_and_dropped_on_cancel(bookable, db, clock):
    world = bookable
    appointment = await booking.book(db, world.a.worker.actor, request_for(world, at(2026, 11, 26, 10)), clock())
    await db.commit()
    planned = (
        (await db.execute(select(OutboxMessage).where(OutboxMessage.appointment_id == appointment.id))).scalars().all()
    )
    assert sorted((m.channel, m.due_at) for m in planned) == sorted(
        (c, appointment.starts_at - dt.timedelta(minutes=m)) for c in ("email", "sms") for m in (1440, 60)
    )
    appointment_id = appointment.id
    await booking.cancel(db, world.a.worker.actor, appointment_id, "sick", clock())
    await db.commit()
    await reread(db)
    statuses = (
        (await db.execute(select(OutboxMessage.status).where(OutboxMessage.appointment_id == appointment_id)))
        .scalars()
        .all()
    )
    assert set(statuses) == {"dropped"}


async def test_interpreter_is_told_at_once_when_the_citizen_cannot_come(bookable, db, clock):
    world = bookable
    request = request_for(
        world,
        at(2026, 11, 26, 13),
        interpreter=booking.Interpreter(
            name="Tolk Tina", language="arabisk", email="tina@tolke.example.dk", phone="+4530000000"
        ),
    )
    appointment = await booking.book(db, world.a.worker.actor, request, clock())
    await db.commit()
    citizen = world.a.citizen
    from vbostotte.actors import Actor

    citizen_actor = Actor(kind="citizen", id=citizen.id, municipality_id=world.a.id, role="citizen")
    await booking.respond(db, citizen_actor, appointment.id, CitizenResponse.CANT_COME, clock())
    await db.commit()
    rows = (
        await db.execute(
            select(OutboxMessage.purpose, OutboxMessage.channel, OutboxMessage.due_at, OutboxMessage.status).where(
                OutboxMessage.recipient_kind == "interpreter"
            )
        )
    ).all()
    notices = [(p, c, due) for p, c, due, status in rows if status != "dropped"]
    assert {(p, c) for p, c, _ in notices} == {
        ("interpreter_invite", "email"),
        ("interpreter_invite", "sms"),
        ("interpreter_cant_come", "email"),
        ("interpreter_cant_come", "sms"),
    }
    assert all(due == clock() for _, _, due in notices)
    # The interpreter's reminder (an hour before) is dropped with the citizen's.
    assert {(p, c) for p, c, _, status in rows if status == "dropped"} == {
        ("interpreter_reminder", "email"),
        ("interpreter_reminder", "sms"),
    }


async def test_no_reminders_without_the_citizens_consent(world, db, clock):
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=s, end_minute=e)
            for d, s, e in WEEKDAYS_8_TO_16
        ]
    )
    for kind in (consent.Kind.EMAIL_REMINDERS, consent.Kind.SMS_REMINDERS):
        await consent.withdraw(db, world.a.worker.actor, world.a.citizen.id, kind, "phone", clock())
    await db.commit()
    appointment = await booking.book(db, world.a.worker.actor, request_for(world, at(2026, 11, 26, 10)), clock())
    await db.commit()
    count = (
        await db.execute(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.appointment_id == appointment.id)
        )
    ).scalar_one()
    assert count == 0
