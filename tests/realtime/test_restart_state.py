"""The in-process broker's state file (the embedded default's restarts, docs/signaling.md "Restarts"): the places
and resume tokens written as they change (mode 600) are what a new broker reads; the server that recovers them
lets the participants resume (admitted stays admitted) and gives up, with ``network_lost``, a place whose owner
does not come back within a grace period that starts at the restart; an unreadable file starts empty."""

from __future__ import annotations

import asyncio
import json
import stat

from signaling import InProcessBroker, Limits

from realtime.conftest import eventually
from realtime.test_reconnection import call_in_progress


def places(path) -> dict:
    try:
        rooms = json.loads(path.read_text())["rooms"]
    except (FileNotFoundError, ValueError):
        return {}
    return {pid: json.loads(raw) for room in rooms.values() for pid, raw in room.items()}


async def test_a_new_process_lets_the_places_it_finds_resume(start_signaling, tmp_path):
    path = tmp_path / "signaling-state.json"
    before = await start_signaling(broker=InProcessBroker(path))
    host, citizen = await call_in_progress(before, media=False)
    await eventually(lambda: places(path).get("citizen-7", {}).get("state") == "admitted")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert citizen.resume_token not in path.read_text() and host.resume_token not in path.read_text()  # hashes only

    # The process is gone (as after SIGKILL): a new one reads the file.
    broker = InProcessBroker(path)
    assert broker.recovered
    after = await start_signaling(Limits(grace_seconds=2.0, auth_timeout=1.0), broker=broker)
    assert await after.server.recover() == 2
    assert after.server.stats()["grace_periods"] == 2
    citizen.url = after.url
    joined = await citizen.resume()
    assert joined["state"] == "admitted"  # not back in the waiting room
    assert [p["id"] for p in joined["participants"]] == ["staff-3"]  # still to come back
    await citizen.ping()
    # The worker never comes back to the new process: after its grace period, the citizen is told.
    await citizen.expect("participant_left", participant="staff-3", reason="network_lost", timeout=5)
    assert ("reconnected", {}) in after.events_of("citizen-7")
    assert ("left", {"reason": "network_lost"}) in after.events_of("staff-3")
    await eventually(lambda: "staff-3" not in places(path))
    host.url = after.url  # and its token went with its place
    await host.connect()
    await host.send(type="resume", token=host.resume_token)
    assert (await host.expect("error"))["code"] == "resume_failed"


async def test_a_place_dropped_before_the_stop_keeps_its_own_grace_period(start_signaling, tmp_path):
    path = tmp_path / "signaling-state.json"
    before = await start_signaling(Limits(grace_seconds=0.5, auth_timeout=1.0), broker=InProcessBroker(path))
    host, citizen = await call_in_progress(before, media=False)
    citizen.drop()
    await host.expect("participant_reconnecting", participant="citizen-7")
    await eventually(lambda: places(path).get("citizen-7", {}).get("conn") == "")
    kept = tmp_path / "at-the-stop.json"  # the process dies now, within the citizen's grace period ...
    kept.write_text(path.read_text())
    await asyncio.sleep(0.7)  # ... and is back after it is over
    after = await start_signaling(broker=InProcessBroker(kept))
    assert await after.server.recover() == 1  # the worker's place (held at the stop) only
    citizen.url = after.url
    await citizen.connect()
    await citizen.send(type="resume", token=citizen.resume_token)
    assert (await citizen.expect("error"))["code"] == "resume_failed"
    host.url = after.url
    assert (await host.resume())["state"] == "admitted"


async def test_a_state_file_that_cannot_be_read_starts_with_no_rooms(tmp_path):
    path = tmp_path / "signaling-state.json"
    path.write_text('{"rooms": {"appointment-1": ')
    broker = InProcessBroker(path)
    assert broker.rooms == {} and broker.tokens == {} and not broker.recovered
    await broker.put_token("key", "appointment-1\x1fcitizen-7", 60)
    await broker.close()  # the last change is on disk when close returns
    assert json.loads(path.read_text())["tokens"]["key"][0] == "appointment-1\x1fcitizen-7"
    assert await InProcessBroker(path).take_token("key") == "appointment-1\x1fcitizen-7"
