"""``Rooms.placed``, which the app's access check asks of every room each second, names the same people as
``Rooms.members`` without reading each held place: held, dropped within the grace period, and lapsed places, also
with names that spell the marker of a dropped place."""

from __future__ import annotations

import asyncio

from signaling.broker import InProcessBroker
from signaling.rooms import Participant, Rooms


def test_placed_names_exactly_the_members():
    async def scenario() -> None:
        now = [1000.0]
        rooms = Rooms(InProcessBroker(), clock=lambda: now[0])
        people = [
            Participant("staff-3", "appointment-1", "host", "Anna"),
            Participant("citizen-7", "appointment-1", "guest", '"conn":""'),
            Participant("guest-9", "appointment-1", "guest", 'x","conn":"","y'),
            Participant("citizen-8", "appointment-1", "guest", "Bo"),
        ]
        for i, person in enumerate(people):
            await rooms.enter(person, f"conn{i}", f"token{i}", 4)
        assert sorted(await rooms.placed("appointment-1")) == sorted(p.id for p in people)
        await rooms.drop("appointment-1", "citizen-7", "conn1", 30)  # within its grace period
        await rooms.drop("appointment-1", "citizen-8", "conn3", 5)
        now[0] += 10  # citizen-8's grace period is over: not a place any more
        expected = sorted(m.id for m in await rooms.members("appointment-1"))
        assert expected == ["citizen-7", "guest-9", "staff-3"]
        assert sorted(await rooms.placed("appointment-1")) == expected

    asyncio.run(scenario())
