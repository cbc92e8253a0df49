"""Malformed, oversized and abusive input: the server answers errors or closes that one connection, stays up,
keeps other rooms working, and holds no more memory afterwards than before."""

from __future__ import annotations

import asyncio
import gc
import json
import random
import tracemalloc

from aiohttp import WSMsgType

from signaling import Limits
from signaling.protocol import CLIENT_MESSAGES, Field

from realtime.conftest import eventually

# For the flood of bad frames: no rate limit in the way, room for every error reply in the queue.
GENEROUS = Limits(grace_seconds=0.5, auth_timeout=1.0, rate_per_second=1e6, rate_burst=1_000_000, send_queue=4096)
WRONG_VALUES = [1, 1.5, -1, 1e20, True, None, [], {}, "x", "\ud800", [1, [2, [3]]], {"a": {"b": {}}}]


def fits(field: Field, value) -> bool:
    """Whether ``value`` is right for ``field`` after all (so not a bad frame)."""
    if value is None:
        return field.nullable
    if field.kind == "str":
        return type(value) is str and not field.choices
    if field.kind in ("int", "number"):
        types = (int,) if field.kind == "int" else (int, float)
        return type(value) in types and field.minimum <= value <= field.maximum
    return False


def bad_frames(seed: int = 4) -> list[str]:
    """Over a thousand frames an admitted guest might send, each of which must get exactly one error reply."""
    rng = random.Random(seed)
    frames = [
        "{",
        "}",
        "[",
        "nul",
        "tru",
        '{"type":',
        "{'type':'ping'}",
        "\x00",
        "\ufeff{}",
        "",
        " ",
        "NaN",
        '{"type":"ping","ts":NaN}',
        '{"type":"ping","ts":Infinity}',
        "1e999999",
        '{"type":"ping"}{}',
        "1",
        "[]",
        '"ping"',
        "null",
        "true",
        '[{"type":"ping"}]',
        "9" * 5000,
        "[" * 30_000 + "]" * 30_000,
        '{"a":' * 10_000 + "1" + "}" * 10_000,
        json.dumps({"type": "chat", "text": "x", "deep": json.loads("[" * 500 + "]" * 500)}),
    ]
    for kind in [
        None,
        1,
        1.5,
        True,
        [],
        {},
        "",
        "PING",
        "hack",
        "__class__",
        "constructor",
        "x" * 10_000,
        "join",
        "resume",
        "admit",
        "end",
        "notice",
    ]:
        frames.append(
            json.dumps(
                {"type": kind, "ticket": "t", "token": "t", "participant": "staff-3", "to": "staff-3", "text": "hi"}
            )
        )
    # Every field of every message with every wrong value, missing, and with an unknown field beside it.
    valid = {
        "ticket": "t",
        "token": "t",
        "ts": 1.0,
        "participant": "guest-1",
        "to": "staff-3",
        "text": "hi",
        "sdp": "v=0",
        "candidate": {"candidate": "candidate:1 1 udp 1 127.0.0.1 9 typ host", "sdpMid": "0"},
        "connection": "direct",
        "rtt_ms": 12.0,
        "audio": "on",
        "video": "on",
        "audio_only": "off",
        "screen": "off",
    }
    for kind, spec in CLIENT_MESSAGES.items():
        base = {"type": kind, **{name: valid[name] for name in spec.fields}}
        frames.append(json.dumps({**base, "extra": 1}))
        for name in spec.fields:
            if spec.fields[name].required:
                frames.append(json.dumps({k: v for k, v in base.items() if k != name}))
            for value in WRONG_VALUES:
                if kind in ("join", "resume", "admit", "end", "notice") or fits(spec.fields[name], value):
                    continue  # refused for the phase or role before their fields are looked at; or not wrong
                frames.append(json.dumps({**base, name: value}))
    for field, length in (("text", 501), ("sdp", 60_001), ("to", 65)):
        frames.append(
            json.dumps(
                {
                    "type": {"text": "chat", "sdp": "offer", "to": "offer"}[field],
                    "to": "staff-3",
                    "sdp": "v=0",
                    field: "x" * length,
                }
                if field != "text"
                else {"type": "chat", "text": "x" * length}
            )
        )
    frames += [
        json.dumps({"type": "candidate", "to": "staff-3", "candidate": c})
        for c in (
            {"candidate": "x" * 1025},
            {"candidate": "x", "sdpMLineIndex": "0"},
            {"candidate": "x", "extra": 1},
            {"candidate": 5},
            {"sdpMid": "0"},
            {"candidate": "x", "sdpMLineIndex": 256},
            "candidate:1",
            [],
        )
    ]
    frames += [json.dumps({"type": "offer", "to": f"someone-{i}", "sdp": "v=0"}) for i in range(50)]
    while len(frames) < 1050:  # random garbage, and random corruptions of valid messages
        good = json.dumps({"type": "chat", "text": "hello", "n": rng.randrange(1000)})
        cut = rng.randrange(1, len(good) - 1)
        frames.append(
            rng.choice(
                [
                    good[:cut],
                    good[cut:],
                    good.replace('"', "'"),
                    good.replace(":", "=", 1),
                    "".join(chr(rng.randrange(32, 0x2FFF)) for _ in range(rng.randrange(1, 200))),
                ]
            )
        )
    return frames


def internals(signaling) -> dict:
    """Every structure that could grow with what clients send."""
    server, broker = signaling.server, signaling.server.broker
    return {
        **server.stats(),
        "conns": len(server._conns),
        "local": len(server._local),
        "tasks": len(server._tasks),
        "timers": len(server._timers),
        "listening": len(server._listening),
        "rooms": len(broker.rooms),
        "places": sum(len(r) for r in broker.rooms.values()),
        "tokens": len(broker.tokens),
        "handlers": len(broker.handlers),
        "asyncio_tasks": len(asyncio.all_tasks()),
    }


async def flood(sender, frames: list[str]) -> list[dict]:
    """Send every frame and collect one error reply for each."""
    before = len(sender.messages)
    for frame in frames:
        await sender.send_raw(frame)
    await eventually(lambda: len(sender.messages) - before >= len(frames), timeout=30)
    return sender.messages[before:]


async def test_a_thousand_bad_frames_leave_the_server_up_and_its_memory_flat(start_signaling, session):
    signaling = await start_signaling(GENEROUS)
    host = await signaling.joined("staff-3", role="host", media=False)
    sender = await signaling.joined("citizen-7", media=False)
    await host.expect("waiting")
    await host.send(type="admit", participant="citizen-7")
    await sender.expect("admitted")
    other_host = await signaling.joined("staff-4", role="host", media=False, room="appointment-2")
    other_guest = await signaling.joined("citizen-8", media=False, room="appointment-2")
    await other_host.expect("waiting")
    await other_host.send(type="admit", participant="citizen-8")
    await other_guest.expect("admitted")
    await sender.ping()
    baseline = internals(signaling)

    frames = bad_frames()
    assert len(frames) >= 1000
    replies = await flood(sender, frames)
    assert len(replies) == len(frames) and {r["type"] for r in replies} == {"error"}
    codes = {r["code"] for r in replies}
    assert {"bad_json", "bad_message", "unknown_type", "not_allowed", "unknown_participant"} <= codes

    # Frames that close the connection they arrive on: each on a connection of its own.
    closers = [
        ("bytes", b"\x00" * 10),
        ("bytes", b""),
        ("text", "x" * (64 * 1024 + 1)),
        ("raw", b"\xff\xfe invalid utf-8"),
        ("text", "[" * 70_000),
    ]
    for kind, frame in closers:
        peer = await signaling.joined("guest-20", media=False, room="appointment-3")
        if kind == "bytes":
            await peer.ws.send_bytes(frame)
        elif kind == "raw":
            await peer.ws.send_frame(frame, WSMsgType.TEXT)
        else:
            await peer.ws.send_str(frame)
        assert await peer.closed() in (1003, 1007, 1009)
    for first in ("garbage", '{"type":"ping"}', '{"type":"join"}', '{"type":"join","ticket":5}'):
        stranger = signaling.peer(media=False)
        await stranger.connect()
        await stranger.send_raw(first)
        assert await stranger.closed() == 4001

    # The server is up, the flooding guest's own call and another room work.
    await sender.ping()
    await other_guest.send(type="chat", text="still here")
    await other_host.expect("chat", text="still here")
    await other_host.ping()
    await host.ping()
    assert not host.saw("chat") and not host.saw("offer")

    # Memory: what the closed connections held is gone, and another thousand frames keep nothing.
    await eventually(
        lambda: internals(signaling) == baseline,
        timeout=10,
        what=lambda: f"before: {baseline}, now: {internals(signaling)}",
    )
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.take_snapshot()
        await flood(sender, frames)
        await sender.ping()
        gc.collect()
        grown = tracemalloc.take_snapshot().compare_to(start, "filename")
    finally:
        tracemalloc.stop()
    kept = sum(stat.size_diff for stat in grown if "/signaling/" in stat.traceback[0].filename)
    assert kept < 16 * 1024, grown[:5]
    assert internals(signaling) == baseline


async def test_a_flood_is_rate_limited_then_closed(start_signaling):
    signaling = await start_signaling(Limits(rate_per_second=20, rate_burst=20, grace_seconds=0.5))
    flooder = await signaling.joined("staff-3", role="host", media=False)
    bystander = await signaling.joined("staff-4", role="host", media=False, room="appointment-2")
    for _ in range(200):
        await flooder.send(type="ping")
    assert (await flooder.expect("error"))["code"] == "rate_limited"
    assert await flooder.closed() == 4008
    assert sum(m["type"] == "pong" for m in flooder.messages) <= 25
    await bystander.ping()


async def test_a_client_that_keeps_sending_faster_than_the_rate_is_closed_a_slower_one_never(start_signaling):
    """Twice the rate: every other frame gets through, and the flood still ends in a close (docs/signaling.md)."""
    signaling = await start_signaling(Limits(rate_per_second=20, rate_burst=20, grace_seconds=0.5))
    flooder = await signaling.joined("staff-3", role="host", media=False)
    steady = await signaling.joined("staff-4", role="host", media=False, room="appointment-2")
    for tick in range(240):  # 40 frames a second for at most 6 s
        if flooder.close_code is not None:
            break
        await flooder.send(type="ping")
        if tick % 4 == 0:
            await steady.send(type="ping")
        await asyncio.sleep(1 / 40)
    assert await flooder.closed() == 4008
    assert sum(m["type"] == "error" and m["code"] == "rate_limited" for m in flooder.messages) == 1  # told once
    await steady.ping()  # ten frames a second, under the rate: never limited
    assert not steady.saw("error")


async def test_a_client_that_reads_nothing_is_disconnected_not_buffered(start_signaling, session):
    signaling = await start_signaling(Limits(send_queue=8, rate_per_second=1e6, rate_burst=1_000_000))
    host = await signaling.joined("staff-3", role="host", media=False)
    # The guest joins by hand and then never reads its socket.
    deaf = await session.ws_connect(signaling.url)
    await deaf.send_str(json.dumps({"type": "join", "ticket": signaling.ticket("citizen-7")}))
    await host.expect("waiting")
    await host.send(type="admit", participant="citizen-7")
    await host.expect("participant_joined")
    for _ in range(400):  # 24 MB of offers: more than every socket buffer on the way
        await host.send(type="offer", to="citizen-7", sdp="x" * 60_000)
        if host.saw("participant_reconnecting"):
            break
    await host.expect("participant_reconnecting", participant="citizen-7")
    await eventually(lambda: signaling.server.stats()["connections"] == 1)
    await host.ping()
    await deaf.close()
