"""Statistics at the edges the seeded year (tests/unit/test_statistics.py) does not reach: an interpreter released
exactly at the confirmation cut-off (compared in SQL, to the microsecond), and a citizen let in more than once
in one call (every admission's wait counts)."""

from __future__ import annotations

import datetime as dt

from vbostotte.models import Appointment, CallEvent, MunicipalitySettings
from vbostotte.review import statistics


def _appointment(world, starts: dt.datetime, **fields) -> Appointment:
    a = world.a
    return Appointment(
        municipality_id=a.id,
        citizen_id=a.citizen.id,
        worker_id=a.worker.id,
        kind="video",
        starts_at=starts,
        ends_at=starts + dt.timedelta(minutes=30),
        created_at=starts - dt.timedelta(days=3),
        created_by_id=a.worker.id,
        **fields,
    )


async def test_an_interpreter_released_exactly_at_the_cut_off_is_in_time(world, db, clock):
    await db.merge(
        MunicipalitySettings(
            municipality_id=world.a.id, reminder_offsets_minutes="1440", confirm_cutoff_minutes=90, crisis_line_text=""
        )
    )
    cutoff = dt.timedelta(minutes=90)
    day = (clock() - dt.timedelta(days=10)).replace(hour=9, minute=0, second=0, microsecond=0)
    tick = dt.timedelta(microseconds=1)
    cases = [  # (start, cancelled) and whether that is in time
        (day, day - cutoff, True),  # exactly the cut-off
        (day + dt.timedelta(hours=1), day + dt.timedelta(hours=1) - cutoff + tick, False),  # a microsecond late
        (day + dt.timedelta(hours=2), day + dt.timedelta(hours=2) - cutoff - tick, True),  # a second's edge early
        (  # a start with a fraction of a second near the next one: exactly the cut-off
            day + dt.timedelta(hours=3, seconds=59, microseconds=999_999),
            day + dt.timedelta(hours=3, seconds=59, microseconds=999_999) - cutoff,
            True,
        ),
        (  # … and a microsecond late
            day + dt.timedelta(hours=4, seconds=59, microseconds=999_999),
            day + dt.timedelta(hours=4, seconds=59, microseconds=999_999) - cutoff + tick,
            False,
        ),
    ]
    for starts, cancelled, _ in cases:
        db.add(
            _appointment(
                world,
                starts,
                cancelled_at=cancelled,
                cancelled_by="worker",
                interpreter_name="Tina Tolk",
                interpreter_language="arabisk",
            )
        )
    await db.commit()
    stats = await statistics.compute(
        db, statistics.Scope(world.a.id, (world.a.team_id,)), statistics.Period(day.date(), day.date())
    )
    assert stats.interpreters.booked == len(cases)
    assert stats.interpreters.released_in_time == sum(1 for *_, in_time in cases if in_time) == 3


async def test_every_admission_of_a_citizen_let_in_twice_counts_for_the_waiting_time(world, db, clock):
    staff, citizen = f"staff-{world.a.worker.id}", f"citizen-{world.a.citizen.id}"
    day = (clock() - dt.timedelta(days=10)).replace(hour=9, minute=0, second=0, microsecond=0)
    calls = [
        [(10.0, "network_lost"), (30.0, "hung_up")],  # let in, lost, back through the waiting room, let in again
        [(50.0, "hung_up")],
    ]
    for hour, admissions in enumerate(calls):
        starts = day + dt.timedelta(hours=hour)
        appointment = _appointment(world, starts, attendance="attended")
        db.add(appointment)
        await db.flush()
        at = starts
        events = [(staff, "host", "joined", {"waited": False})]
        for waited, reason in admissions:
            events += [
                (citizen, "guest", "waiting", {}),
                (citizen, "guest", "admitted", {"by": staff, "waited_seconds": waited}),
                (citizen, "guest", "left", {"reason": reason}),
            ]
        for who, role, event, details in events:
            at += dt.timedelta(minutes=1)
            db.add(
                CallEvent(
                    appointment_id=appointment.id, at=at, participant=who, role=role, event=event, details=details
                )
            )
    await db.commit()
    video = (
        await statistics.compute(
            db, statistics.Scope(world.a.id, (world.a.team_id,)), statistics.Period(day.date(), day.date())
        )
    ).video
    assert (video.with_call, video.waits_counted, video.median_wait_seconds) == (2, 3, 30.0)
