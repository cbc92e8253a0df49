"""Who gets TURN credentials, how many and for how long: only people who can be in a call (citizens, support
workers, guests with a call ticket); the connection test's live minutes and are limited per person; a call's live
until the call closes. Administrators and supervisors test their connection without TURN."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import time
from html import unescape

import pytest
from sqlalchemy import func, select

from vbostotte.booking import booking
from vbostotte.calls import calls, connection_test, guests
from vbostotte.config import Settings
from vbostotte.models import Appointment, TurnGrant

from support import read_in_english, reread, text_of

STUN = "stun:127.0.0.1:3478"
TURN = {"stun_urls": STUN, "turn_urls": "turn:127.0.0.1:3478?transport=udp", "turn_secret": "turn-test-secret"}
NO_RELAY = "This test does not use the relay server"
TOO_MANY = "You have started the connection test many times. Please wait a few minutes and try again."


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, **TURN)


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


def servers_on(page: str) -> list[dict]:
    return json.loads(unescape(re.search(r"data-ice-servers='([^']*)'", page).group(1)))


def turn_expiry(servers: list[dict]) -> int | None:
    """When the TURN credentials end (wall-clock unix time), or None if there are none."""
    turn = [s for s in servers if "username" in s]
    return int(turn[0]["username"].split(":")[0]) if turn else None


async def grants(db) -> int:
    await reread(db)
    return (await db.execute(select(func.count()).select_from(TurnGrant))).scalar_one()


@pytest.mark.parametrize("who", ["admin", "supervisor"])
async def test_administrators_and_supervisors_test_without_turn(web, world, db, who):
    await web.login(getattr(world.a, who))
    page = await web.page("/connection-test")
    assert servers_on(page) == [{"urls": [STUN]}]
    assert NO_RELAY in text_of(page)
    assert await grants(db) == 0


async def test_call_participants_get_turn_for_minutes_in_the_connection_test(web, other_web, world, db):
    await web.login(world.a.worker)
    await other_web.open_link(world.a.citizen.link_token)
    for browser in (web, other_web):
        page = await browser.page("/connection-test")
        expiry = turn_expiry(servers_on(page))
        assert time.time() < expiry <= time.time() + connection_test.TURN_SECONDS
        assert NO_RELAY not in text_of(page)
    assert connection_test.TURN_SECONDS <= 10 * 60
    assert await grants(db) == 2


async def test_the_connection_tests_turn_credentials_are_limited_per_person(web, other_web, world, db, clock):
    await other_web.open_link(world.a.citizen.link_token)
    for _ in range(connection_test.TESTS_PER_WINDOW):
        assert turn_expiry(servers_on(await other_web.page("/connection-test")))
    refused = await other_web.get("/connection-test")
    assert refused.status == 429 and TOO_MANY in text_of(await refused.text())
    # Someone else is not held back by her tests.
    await web.login(world.a.worker)
    assert turn_expiry(servers_on(await web.page("/connection-test")))
    # Once the window has passed she gets credentials again, and only the window's grants are kept.
    clock.advance(seconds=connection_test.WINDOW.total_seconds() + 1)
    assert turn_expiry(servers_on(await other_web.page("/connection-test")))
    assert await grants(db) == 1


async def test_a_calls_turn_credentials_last_until_the_call_closes(web, other_web, world, db, clock, settings):
    appointment = world.a.citizen.appointment_id
    clock.advance(days=1, minutes=-10)  # ten minutes before the 45-minute video session
    closes_in = (10 + 45 + settings.call_closes_minutes) * 60
    await web.login(world.a.worker)
    await other_web.open_link(world.a.citizen.link_token)
    for browser, page in ((web, "/worker"), (other_web, "/me")):
        response = await browser.client.post(
            f"/calls/{appointment}/ticket", headers={"X-CSRF-Token": await browser.csrf_from(page)}
        )
        assert response.status == 200
        expiry = turn_expiry((await response.json())["ice_servers"])
        assert time.time() + closes_in - 5 <= expiry <= time.time() + closes_in
    # A guest's ticket too (a relative, with the citizen's consent).
    link = await guests.create_link(
        db, world.a.worker.actor, appointment, guests.RELATIVE, "Bo Holm", settings, clock()
    )
    await db.commit()
    token = link.url.rsplit("/", 1)[1]
    guest = await other_web.post(f"/g/{token}/ticket", {"name": "Bo Holm"}, from_page=f"/g/{token}")
    assert guest.status == 200
    expiry = turn_expiry((await guest.json())["ice_servers"])
    assert time.time() + closes_in - 5 <= expiry <= time.time() + closes_in
    assert await grants(db) == 0  # calls are limited by their tickets, not by grants


def test_call_credentials_live_at_most_the_setting_and_the_default_covers_the_longest_call(clock):
    settings = Settings()
    longest = (settings.call_opens_minutes + booking.MAX_DURATION + settings.call_closes_minutes) * 60
    assert settings.turn_ttl_seconds >= longest
    # Joined as the room opens, a four-hour session's credentials last until it closes, not a moment less.
    starts = clock() + dt.timedelta(minutes=settings.call_opens_minutes)
    session = Appointment(starts_at=starts, ends_at=starts + dt.timedelta(minutes=booking.MAX_DURATION))
    assert calls.call_turn_seconds(session, settings, clock()) == longest
    assert calls.call_turn_seconds(session, dataclasses.replace(settings, turn_ttl_seconds=3600), clock()) == 3600
    # Joined at the last moment, they still outlive the ticket.
    late = clock() + dt.timedelta(minutes=longest / 60 - 0.5)
    assert calls.call_turn_seconds(session, settings, late) == calls.TICKET_SECONDS
