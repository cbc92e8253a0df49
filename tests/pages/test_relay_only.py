"""Relay-only citizens fail closed: a citizen whose calls must go through the relay server (TURN) gets no call at
all while no TURN server is configured — the ticket is refused with a plain reason (409), the call page and the
appointment page say why, the setting says it needs TURN, and `vbostotte serve` warns at start-up. With TURN,
her ticket says "relay"; a citizen who is not relay-only calls as before."""

from __future__ import annotations

import dataclasses
import logging
import os
import subprocess
import sys
import time

from sqlalchemy import func, select

from vbostotte import cli
from vbostotte.app import create_app
from vbostotte.models import CallTicket, Citizen

from support import WebClient, free_port, port_open, read_in_english, text_of

WORKER_REASON = "The citizen must call through a relay server (TURN), but none is set up. Contact IT."
WORKER_REASON_DA = "Borgeren skal ringe gennem en relæserver (TURN), men der er ingen sat op. Kontakt IT."
CITIZEN_REASON = (
    "Your calls must go through a relay server (TURN), so that the others cannot see your internet "
    "address, but none is set up. The call cannot start. Please tell your support worker."
)
NEEDS_TURN = "This needs a relay server (TURN). Without one, the citizen's video calls cannot start."
NOT_SET_UP_ON = "No relay server (TURN) is set up, so the citizen's video calls cannot start now."
NOT_SET_UP_OFF = "No relay server (TURN) is set up. With Yes, the citizen's video calls cannot start."
TURN = {"turn_urls": "turn:127.0.0.1:3478?transport=udp", "turn_secret": "relay-only-test-secret"}


async def relay_only(db, world, on: bool = True) -> None:
    citizen = await db.get(Citizen, world.a.citizen.id)
    citizen.force_relay = on
    await db.commit()


async def browsers(aiohttp_client, settings, clock, world) -> tuple[WebClient, WebClient]:
    """The worker (logged in) and the citizen (by her link), ten minutes before her video session, in English."""
    app = create_app(settings, clock=clock)
    worker, citizen = WebClient(await aiohttp_client(app), clock), WebClient(await aiohttp_client(app), clock)
    clock.advance(days=1, minutes=-10)
    await worker.login(world.a.worker)
    await citizen.open_link(world.a.citizen.link_token)
    read_in_english(worker, citizen)
    return worker, citizen


async def ticket(web: WebClient, appointment_id: int, page: str):
    """What the call page's script does on Join."""
    return await web.client.post(
        f"/calls/{appointment_id}/ticket",
        headers={"X-CSRF-Token": await web.csrf_from(page), "Accept": "application/json"},
    )


async def test_without_turn_a_relay_only_citizens_call_cannot_start_and_every_page_says_why(
    aiohttp_client, settings, clock, world, db
):
    await relay_only(db, world)
    worker, citizen = await browsers(aiohttp_client, settings, clock, world)
    appointment = world.a.citizen.appointment_id

    refused = await ticket(citizen, appointment, "/me")
    assert refused.status == 409
    body = await refused.json()
    assert body["message"] == CITIZEN_REASON and "ticket" not in body and "ice_servers" not in body
    refused = await ticket(worker, appointment, "/worker")
    assert refused.status == 409 and (await refused.json())["message"] == WORKER_REASON
    assert (await db.execute(select(func.count()).select_from(CallTicket))).scalar_one() == 0  # nothing kept

    citizen_page = await citizen.page(f"/calls/{appointment}")
    assert CITIZEN_REASON in text_of(citizen_page) and 'id="join"' not in citizen_page  # no Join to press
    worker_page = await worker.page(f"/calls/{appointment}")
    assert WORKER_REASON in text_of(worker_page) and 'id="join"' not in worker_page
    assert WORKER_REASON in text_of(await worker.page(f"/appointments/{appointment}"))
    settings_page = text_of(await worker.page(f"/citizens/{world.a.citizen.id}"))
    assert NEEDS_TURN in settings_page and NOT_SET_UP_ON in settings_page

    worker.client.session.cookie_jar.update_cookies({"vb_lang": "da"})  # Danish, the default
    assert WORKER_REASON_DA in text_of(await worker.page(f"/appointments/{appointment}"))
    refused = await ticket(worker, appointment, "/worker")
    assert (await refused.json())["message"] == WORKER_REASON_DA


async def test_with_turn_the_relay_only_citizen_gets_a_relay_ticket_and_no_warning(
    aiohttp_client, settings, clock, world, db
):
    await relay_only(db, world)
    worker, citizen = await browsers(aiohttp_client, dataclasses.replace(settings, **TURN), clock, world)
    appointment = world.a.citizen.appointment_id
    answer = await ticket(citizen, appointment, "/me")
    assert answer.status == 200 and (await answer.json())["ice_transport_policy"] == "relay"
    answer = await ticket(worker, appointment, "/worker")
    assert answer.status == 200 and (await answer.json())["ice_transport_policy"] == "all"
    for page in (
        await citizen.page(f"/calls/{appointment}"),
        await worker.page(f"/calls/{appointment}"),
        await worker.page(f"/appointments/{appointment}"),
    ):
        assert 'id="relay-missing"' not in page
    assert 'id="join"' in await citizen.page(f"/calls/{appointment}")
    settings_page = text_of(await worker.page(f"/citizens/{world.a.citizen.id}"))
    assert NEEDS_TURN in settings_page and "No relay server (TURN) is set up" not in settings_page


async def test_without_turn_a_citizen_who_is_not_relay_only_calls_as_before_and_the_setting_warns(
    aiohttp_client, settings, clock, world, db
):
    worker, citizen = await browsers(aiohttp_client, settings, clock, world)
    appointment = world.a.citizen.appointment_id
    answer = await ticket(citizen, appointment, "/me")
    assert answer.status == 200 and (await answer.json())["ice_transport_policy"] == "all"
    assert 'id="relay-missing"' not in await worker.page(f"/appointments/{appointment}")
    settings_page = text_of(await worker.page(f"/citizens/{world.a.citizen.id}"))
    assert NEEDS_TURN in settings_page and NOT_SET_UP_OFF in settings_page


async def test_the_start_up_check_warns_only_for_relay_only_citizens_without_turn(settings, world, db, caplog):
    caplog.set_level(logging.WARNING, logger="vbostotte.cli")
    assert await cli.warn_relay_only_without_turn(settings) == 0  # nobody is relay-only
    await relay_only(db, world)
    assert await cli.warn_relay_only_without_turn(dataclasses.replace(settings, **TURN)) == 0  # TURN is there
    assert not caplog.records
    assert await cli.warn_relay_only_without_turn(settings) == 1
    [record] = caplog.records
    assert record.levelno == logging.WARNING
    assert "1 citizen(s)" in record.getMessage() and "VB_TURN_URLS" in record.getMessage()


async def test_vbostotte_serve_warns_at_start_up(settings, world, db, tmp_path):
    """The real command: its log, while it starts, has the WARNING."""
    await relay_only(db, world)
    env = {
        **os.environ,
        "VB_DATABASE_URL": settings.resolved_database_url,
        "VB_DATA_DIR": str(tmp_path),
        "VB_SECRET_KEY": settings.secret_key,
        "VB_OUTBOX_WORKER": "false",
        "VB_LOG_FORMAT": "text",
        "VB_TURN_URLS": "",
        "VB_TURN_SECRET": "",
    }
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "vbostotte", "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        os.set_blocking(server.stderr.fileno(), False)
        log, deadline, serving = "", time.monotonic() + 30, False
        while not serving and server.poll() is None and time.monotonic() < deadline:  # until it serves requests
            time.sleep(0.1)
            serving = port_open(f"http://127.0.0.1:{port}", port)
            log += (server.stderr.read() or b"").decode()
        assert serving, log
    finally:
        server.terminate()
        server.wait(timeout=30)
    [line] = [line for line in log.splitlines() if "relay" in line]
    assert " WARNING vbostotte.cli " in line and "1 citizen(s)" in line, log
