"""An Idempotency-Key stands for one request (the IETF idempotency-key draft): the same key with the same request
replays the first answer; the same key with a different request is refused with 422 and a clear message, and is
never told it booked what was never booked."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from vbostotte.models import Appointment, WorkingHours

from support import read_in_english, reread

KEY_REUSED = "This key was already used for a different booking. Use a new key for a new booking."


@pytest.fixture
async def api(web, world, db):
    """A worker of municipality a, signed in, with working hours, and the CSRF header the API wants."""
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    await db.commit()
    read_in_english(web)
    await web.login(world.a.worker)
    session = await (await web.client.get("/api/v1/session")).json()
    web.headers = {"X-CSRF-Token": session["csrf_token"], "Idempotency-Key": "case-system-7"}
    return web


def body(world, starts_at: str, **extra) -> dict:
    return {"citizen_id": world.a.citizen.id, "kind": "video", "starts_at": starts_at, "duration_minutes": 45, **extra}


async def book(api, payload):
    return await api.client.post("/api/v1/appointments", json=payload, headers=api.headers)


async def booked(db) -> list[tuple]:
    await reread(db)
    rows = await db.execute(select(Appointment.starts_at).where(Appointment.idempotency_key == "case-system-7"))
    return list(rows)


async def count(db) -> int:
    await reread(db)
    return (await db.execute(select(func.count()).select_from(Appointment))).scalar_one()


async def test_the_same_key_with_another_time_is_refused_and_nothing_more_is_booked(api, world, db):
    first = await book(api, body(world, "2026-12-02T10:00:00+01:00"))
    assert first.status == 201
    again = await book(api, body(world, "2026-12-02T13:00:00+01:00"))
    assert again.status == 422
    answer = await again.json()
    assert answer["message"] == KEY_REUSED and answer["fields"] == {"Idempotency-Key": KEY_REUSED}
    other_note = await book(api, body(world, "2026-12-02T10:00:00+01:00", note_to_citizen="Husk briller"))
    assert other_note.status == 422
    assert len(await booked(db)) == 1


async def test_the_same_key_with_the_same_request_spelled_differently_replays_the_first_answer(api, world):
    first = await book(api, body(world, "2026-12-02T10:00:00+01:00"))
    # The same moment in UTC, the keys in another order: the same request.
    same = {
        "duration_minutes": 45,
        "starts_at": "2026-12-02T09:00:00Z",
        "kind": "video",
        "citizen_id": world.a.citizen.id,
    }
    replay = await book(api, same)
    assert (first.status, replay.status) == (201, 200)
    assert await replay.json() == await first.json()


@pytest.mark.parametrize("identical_one", [False, True])
async def test_ten_concurrent_callers_with_one_key_and_ten_different_bodies_book_one(api, world, db, identical_one):
    before = await count(db)
    times = [f"2026-12-03T{9 + n // 2:02d}:{30 * (n % 2):02d}:00+01:00" for n in range(10)]
    if identical_one:
        times[9] = times[0]  # one caller repeats another's request exactly: it may get the booking back
    responses = await asyncio.gather(*(book(api, body(world, t)) for t in times))
    answers = [(r.status, await r.json()) for r in responses]
    created = [a for status, a in answers if status == 201]
    assert len(created) == 1
    winner = created[0]
    for status, answer in answers:
        if status == 200:  # a replay: only of the very request that booked
            assert identical_one and answer == winner
        elif status != 201:
            assert (status, answer["message"]) == (422, KEY_REUSED)
    replays = sum(status == 200 for status, _ in answers)
    assert replays <= 1
    assert len(await booked(db)) == 1
    assert await count(db) == before + 1
