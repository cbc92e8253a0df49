"""An appointment may run across local midnight (23:30–00:30) when the worker's hours run to 24:00 one day and
from 00:00 the next: the two days' windows are one stretch of time. Also on the nights of the daylight-saving
changes, where the night is an hour shorter (spring) or longer (autumn)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from vbostotte.booking import availability, booking
from vbostotte.errors import InvalidInput
from vbostotte.models import Appointment, AppointmentKind, WorkingHours

from support import read_in_english

UTC = dt.UTC
SATURDAY, SUNDAY = 5, 6


def at(year, month, day, hour, minute=0) -> dt.datetime:
    """A Copenhagen wall-clock time as UTC."""
    return availability.to_utc(dt.date(year, month, day), hour * 60 + minute)


@pytest.fixture
async def night_shift(world, db):
    """The worker works Saturday 20:00–24:00 and Sunday 00:00–04:00 (Copenhagen time)."""
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=SATURDAY, start_minute=1200, end_minute=1440),
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=SUNDAY, start_minute=0, end_minute=240),
        ]
    )
    await db.commit()
    return world


def request_for(world, starts_at: dt.datetime, minutes: int) -> booking.BookingRequest:
    return booking.BookingRequest(world.a.citizen.id, AppointmentKind.VIDEO, starts_at, minutes)


@pytest.mark.parametrize(
    "saturday, minutes, real_minutes",
    [
        (dt.date(2026, 11, 28), 60, 60),  # an ordinary winter night
        (dt.date(2026, 3, 28), 180, 180),  # the spring night: 23:30–03:30 (the clocks skip 02:00–03:00)
        (dt.date(2026, 10, 24), 240, 240),  # the autumn night: 23:30–02:30, the second 02:30 (02:00–03:00 twice)
    ],
)
async def test_an_appointment_across_local_midnight_is_booked(night_shift, db, saturday, minutes, real_minutes):
    world = night_shift
    now = dt.datetime(2026, 3, 1, tzinfo=UTC)
    starts = at(saturday.year, saturday.month, saturday.day, 23, 30)
    appointment = await booking.book(db, world.a.worker.actor, request_for(world, starts, minutes), now)
    await db.commit()
    assert appointment.starts_at == starts
    assert appointment.ends_at - appointment.starts_at == dt.timedelta(minutes=real_minutes)
    free = await availability.availability(db, world.a.worker.id, saturday, 2)
    slots = availability.free_slots(free.windows, free.busy, dt.timedelta(minutes=30), now)
    assert starts not in slots  # now taken
    assert at(saturday.year, saturday.month, saturday.day, 23) in slots  # 23:00–23:30 is still free


async def test_the_night_is_offered_as_free_slots_across_midnight(night_shift, db):
    world, saturday = night_shift, dt.date(2026, 12, 5)
    free = await availability.availability(db, world.a.worker.id, saturday, 2)
    slots = availability.free_slots(
        free.windows, free.busy, dt.timedelta(minutes=60), dt.datetime(2026, 12, 1, tzinfo=UTC)
    )
    assert at(2026, 12, 5, 23, 30) in slots and at(2026, 12, 5, 23, 45) in slots
    assert slots[-1] == at(2026, 12, 6, 3)  # the last hour that still ends by 04:00


async def test_past_the_end_of_the_night_shift_is_still_refused(night_shift, db):
    world = night_shift
    with pytest.raises(InvalidInput) as refused:
        await booking.book(
            db,
            world.a.worker.actor,
            request_for(world, at(2026, 12, 6, 3, 30), 60),
            dt.datetime(2026, 12, 1, tzinfo=UTC),
        )
    assert "time" in refused.value.errors


async def test_the_booking_form_books_across_midnight(night_shift, web, db):
    """The worker's own form (the app's clock: Monday 23 November 2026): Saturday 5 December 23:30 for an hour."""
    world = night_shift
    read_in_english(web)
    assert (await web.login(world.a.worker)).status == 303
    form = {
        "citizen_id": str(world.a.citizen.id),
        "kind": "video",
        "date": "2026-12-05",
        "time": "23:30",
        "duration": "60",
    }
    response = await web.post("/appointments/new", form)
    assert response.status == 303, await response.text()
    booked = await db.scalar(select(Appointment).where(Appointment.starts_at == at(2026, 12, 5, 23, 30)))
    assert booked is not None and booked.ends_at == at(2026, 12, 6, 0, 30)
