"""Many short-lived connections with bad frames — refused before joining, waiting, admitted, dropped without a
goodbye, hung up — leave nothing behind: the server's own structures, its Connection objects and the memory
allocated by the signalling package return to where they were."""

from __future__ import annotations

import asyncio
import gc
import json
import tracemalloc

from signaling import Limits
from signaling.connection import Connection

from realtime.conftest import eventually

LIMITS = Limits(grace_seconds=0.3, auth_timeout=1.0, rate_per_second=1e6, rate_burst=1_000_000)
BAD = [
    "{",
    "[]",
    "null",
    '{"type":"hack"}',
    '{"type":"offer","to":"nobody","sdp":"v=0"}',
    '{"type":"chat"}',
    '{"type":"ping","ts":"x"}',
    '{"type":"admit","participant":"x"}',
    '{"type":"join","ticket":"again"}',
    json.dumps({"type": "chat", "text": "x" * 501}),
    "x" * 2000,
    '{"type":"candidate","to":"a","candidate":[]}',
]


def internals(signaling) -> dict:
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
    }


def connections() -> int:
    gc.collect()
    return sum(isinstance(o, Connection) for o in gc.get_objects())


async def one(signaling, session, i: int) -> None:
    """One connection's short life, of five kinds; every bad frame gets its error reply first."""
    ws = await session.ws_connect(signaling.url)
    kind = i % 5
    try:
        if kind == 0:  # a stranger: a bad first frame is refused and closed
            await ws.send_str(BAD[i % len(BAD)])
            assert (await ws.receive_json())["code"] in (
                "bad_json",
                "bad_message",
                "unknown_type",
                "not_allowed",
                "unauthorized",
            )
            await ws.receive()
            return
        room = f"appointment-{100 + i}"
        if kind in (1, 2):  # a host alone in a room, admitted at once
            await ws.send_str(
                json.dumps({"type": "join", "ticket": signaling.ticket(f"staff-{i}", role="host", room=room)})
            )
            await expect(ws, "waiting_list")
        else:  # a guest waiting for a host
            await ws.send_str(json.dumps({"type": "join", "ticket": signaling.ticket(f"citizen-{i}", room=room)}))
            await expect(ws, "joined")
        for frame in BAD:
            await ws.send_str(frame)
        for _ in BAD:
            await expect(ws, "error")
        if kind in (1, 3):
            await ws.send_str('{"type":"leave"}')
            await ws.receive()
        # kinds 2 and 4 drop without a goodbye: their places wait out the grace period, then are given up
    finally:
        await ws.close()


async def expect(ws, kind: str) -> dict:
    while True:
        message = await ws.receive_json(timeout=10)
        if message["type"] == kind:
            return message


async def round_of(signaling, session, n: int) -> None:
    for start in range(0, n, 25):
        await asyncio.gather(*(one(signaling, session, i) for i in range(start, min(n, start + 25))))


async def test_many_connections_with_bad_frames_leave_nothing_behind(start_signaling, session):
    signaling = await start_signaling(LIMITS)
    host = await signaling.joined("staff-1", role="host", media=False)
    await host.ping()
    baseline, objects = internals(signaling), connections()

    await round_of(signaling, session, 200)  # the first round fills caches (interned strings, pools, free lists)
    await eventually(
        lambda: internals(signaling) == baseline,
        timeout=15,
        what=lambda: f"before: {baseline}, now: {internals(signaling)}",
    )
    assert connections() == objects

    gc.collect()
    # One frame per allocation: the comparison below groups by the allocating line ("lineno": a trace's most recent
    # frame only), so memory counts as the signalling package's when a line of its own allocated it. Deeper
    # tracebacks would only slow every allocation down without changing a figure.
    tracemalloc.start(1)
    try:
        start = tracemalloc.take_snapshot()
        await round_of(signaling, session, 200)
        await eventually(
            lambda: internals(signaling) == baseline,
            timeout=15,
            what=lambda: f"before: {baseline}, now: {internals(signaling)}",
        )
        await eventually(lambda: signaling.server.stats()["events_pending"] == 0)
        signaling.events.clear()  # the test's own session log keeps what it was given
        gc.collect()
        grown = tracemalloc.take_snapshot().compare_to(start, "lineno")
    finally:
        tracemalloc.stop()
    assert connections() == objects
    kept = sum(stat.size_diff for stat in grown if "/signaling/" in stat.traceback[0].filename)
    # 200 connections: under 32 KiB is under 160 B each — aiohttp's per-response leftovers that its own free lists
    # keep (seen: 56 B for some responses); a leaked Connection, queue or task would be kilobytes each.
    assert kept < 32 * 1024, "\n".join(str(s) for s in grown if "/signaling/" in s.traceback[0].filename)
    await host.ping()  # and the call that was there all along still works
