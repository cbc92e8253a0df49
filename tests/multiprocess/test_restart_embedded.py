"""A restart of the embedded default (one `vbostotte serve` process, the in-process broker, no Redis) is invisible
to a call between two real aiortc peers: after SIGTERM or SIGKILL and a start on the same port, both resume their
places from the signalling state kept in the data folder, the citizen is still admitted (not back in the waiting
room), chat goes both ways again, and the media (peer to peer) never stopped. The access rules still hold after a
resume: a citizen whose access ended while the server was down is taken out again at once (4010).

Runs in both passes: SQLite is the embedded default's database, PostgreSQL works the same without Redis."""

from __future__ import annotations

import asyncio
import json
import signal

import aiohttp
import pytest
from sqlalchemy import delete

from vbostotte.models import WebSession

from multiprocess.conftest import citizen_and_worker, in_call
from support import ServerProcess, build_world, serve_env, video_call_soon


@pytest.fixture
async def embedded_world(engine, real_clock, monkeypatch, _password_hash):
    return await build_world(engine, real_clock, _password_hash, monkeypatch)


@pytest.fixture
async def call_soon(embedded_world, db, real_clock) -> int:
    return await video_call_soon(db, embedded_world, real_clock)


@pytest.fixture
async def embedded_server(database_url, tmp_path, http):
    """One `vbostotte serve` process on the embedded default; started by the test, killed afterwards."""
    server = ServerProcess("embedded", serve_env(database_url, tmp_path), tmp_path)
    yield server
    server.stop()


async def restart(server: ServerProcess, how: int, http: aiohttp.ClientSession) -> None:
    """Stop the process with ``how`` and start it again on the same port: it is down while the new one starts."""
    server.signal(how)
    code = await server.exited()
    assert code == (0 if how == signal.SIGTERM else -signal.SIGKILL), server.log()[-3000:]
    await server.start(http)


async def test_a_call_survives_sigterm_and_sigkill_of_the_only_process(
    embedded_server, embedded_world, call_soon, real_clock, http
):
    server, world = embedded_server, embedded_world
    await server.start(http)
    async with citizen_and_worker(server, server, real_clock) as (citizen_web, worker_web):
        citizen, worker, citizen_id, worker_id = await in_call(world, call_soon, citizen_web, worker_web)
        try:
            for how in (signal.SIGTERM, signal.SIGKILL):
                frames = citizen.frames[worker_id], worker.frames[citizen_id]
                closing = asyncio.gather(citizen.closed(), worker.closed())
                await restart(server, how, http)
                codes = await closing
                if how == signal.SIGTERM:
                    assert codes == [1012, 1012]  # "service restart": reconnect
                # The worker comes back first: she sees the citizen, whose place was kept.
                back = await worker.resume()
                assert back["state"] == "admitted" and [p["id"] for p in back["participants"]] == [citizen_id]
                resumed = await citizen.resume()
                assert resumed["state"] == "admitted", resumed  # not back in the waiting room
                assert [p["id"] for p in resumed["participants"]] == [worker_id]
                await worker.expect("participant_reconnected", participant=citizen_id)
                assert not citizen.saw("error") and not citizen.saw("waiting"), citizen.messages

                await citizen.send(type="chat", text=f"Hører du mig? ({how.name})")
                await worker.expect("chat", text=f"Hører du mig? ({how.name})", **{"from": citizen_id})
                await worker.send(type="chat", text="Ja")
                await citizen.expect("chat", text="Ja")
                # The media never depended on the server: it kept flowing through the restart.
                assert await citizen.frames_from(worker_id, 5) > frames[0]
                assert await worker.frames_from(citizen_id, 5) > frames[1]
            assert not citizen.errors and not worker.errors
        finally:
            await citizen.close()
            await worker.close()
    log = [json.loads(line) for line in server.log().splitlines() if line.startswith("{")]
    assert not [line for line in log if line.get("level") == "ERROR"], log
    assert any("recovered 2 place(s)" in line["message"] for line in log)


async def test_a_citizen_whose_access_ended_while_the_server_was_down_is_taken_out_after_resuming(
    embedded_server, embedded_world, call_soon, real_clock, http, db
):
    server, world = embedded_server, embedded_world
    await server.start(http)
    async with citizen_and_worker(server, server, real_clock) as (citizen_web, worker_web):
        citizen, worker, citizen_id, _ = await in_call(world, call_soon, citizen_web, worker_web)
        try:
            server.signal(signal.SIGKILL)
            await server.exited()
            # While it is down, the citizen's access ends (her device session is gone, as when her link is revoked).
            await db.execute(delete(WebSession).where(WebSession.citizen_id == world.a.citizen.id))
            await db.commit()
            await server.start(http)
            await worker.resume()
            assert (await citizen.resume())["state"] == "admitted"  # the place was kept ...
            assert await citizen.closed(timeout=10) == 4010  # ... and the access rules take her out again
            assert (await worker.expect("participant_left", participant=citizen_id))["reason"] == "removed"
            await citizen.connect()  # and her token is gone: no way back without a new ticket
            await citizen.send(type="resume", token=citizen.resume_token)
            assert (await citizen.expect("error"))["code"] == "resume_failed"
            assert await citizen.closed() == 4002
        finally:
            await citizen.close()
            await worker.close()
