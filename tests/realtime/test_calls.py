"""Calls through the real signalling server with real aiortc peers: waiting room, admission, offer/answer and
trickled candidates relayed by the server, media flowing (frames counted), a three-way mesh, hanging up,
the host ending the call, and shutdown."""

from __future__ import annotations

import time

from signaling import Limits

from realtime.conftest import ROOM, eventually


async def admit(host, pid: str) -> None:
    await host.expect("waiting", participant={"id": pid, "name": pid.split("-")[0].title(), "role": "guest"})
    await host.send(type="admit", participant=pid)


async def test_a_waiting_citizen_is_admitted_and_video_flows_both_ways(signaling):
    host = await signaling.joined("staff-3", role="host")
    assert host.me == {"id": "staff-3", "name": "Staff", "role": "host"}
    assert (await host.expect("waiting_list"))["participants"] == []

    started = time.perf_counter()
    citizen = signaling.peer()
    joined = await citizen.join(signaling.ticket("citizen-7"))
    assert joined["state"] == "waiting" and joined["participants"] == [] and joined["resume"]
    await admit(host, "citizen-7")
    admitted = await citizen.expect("admitted")
    assert admitted["participants"] == [{"id": "staff-3", "name": "Staff", "role": "host"}]
    assert admitted["by"] == "staff-3"
    await host.expect("participant_joined", participant={"id": "citizen-7", "name": "Citizen", "role": "guest"})

    await citizen.call("staff-3")  # the newcomer offers to everyone already in the call
    await citizen.connected("staff-3")
    await host.connected("citizen-7")
    connected = time.perf_counter() - started
    await citizen.frames_from("staff-3", 5)
    await host.frames_from("citizen-7", 5)
    print(
        f"\njoin -> waiting -> admitted -> connected: {connected * 1000:.0f} ms; "
        f"5 frames received each way {(time.perf_counter() - started) * 1000:.0f} ms"
    )
    assert not citizen.errors and not host.errors
    # The candidates really went through the server, one message each, stamped with their sender.
    assert sum(m["type"] == "candidate" and m["from"] == "citizen-7" for m in host.messages) >= 2

    assert signaling.events_of("staff-3")[0] == ("joined", {"waited": False})
    citizen_events = signaling.events_of("citizen-7")
    assert [e for e, _ in citizen_events] == ["waiting", "admitted"]
    assert citizen_events[1][1]["by"] == "staff-3" and citizen_events[1][1]["waited_seconds"] >= 0


async def test_an_interpreter_joins_and_all_three_connect_pairwise(signaling):
    host = await signaling.joined("staff-3", role="host")
    citizen = await signaling.joined("citizen-7")
    await admit(host, "citizen-7")
    await citizen.expect("admitted")
    await citizen.call("staff-3")

    interpreter = await signaling.joined("guest-12")
    await admit(host, "guest-12")
    admitted = await interpreter.expect("admitted")
    assert {p["id"] for p in admitted["participants"]} == {"staff-3", "citizen-7"}
    await citizen.expect("participant_joined", participant={"id": "guest-12", "name": "Guest", "role": "guest"})
    for pid in ("staff-3", "citizen-7"):
        await interpreter.call(pid)

    pairs = [
        (host, "citizen-7"),
        (host, "guest-12"),
        (citizen, "staff-3"),
        (citizen, "guest-12"),
        (interpreter, "staff-3"),
        (interpreter, "citizen-7"),
    ]
    for peer, other in pairs:
        await peer.connected(other)
    for peer, other in pairs:
        await peer.frames_from(other, 3)
    assert signaling.server.stats()["admitted"] == 3


async def test_hanging_up_tells_the_others_and_closes_normally(signaling):
    host = await signaling.joined("staff-3", role="host", media=False)
    citizen = await signaling.joined("citizen-7", media=False)
    await admit(host, "citizen-7")
    await citizen.expect("admitted")

    await citizen.send(type="leave")
    assert await citizen.closed() == 1000
    await host.expect("participant_left", participant="citizen-7", reason="hung_up")
    await eventually(lambda: ("left", {"reason": "hung_up"}) in signaling.events_of("citizen-7"))
    await eventually(lambda: signaling.server.stats()["participants"] == 1)


async def test_the_host_ends_the_call_for_everyone_and_a_guest_cannot(signaling):
    host = await signaling.joined("staff-3", role="host", media=False)
    citizen = await signaling.joined("citizen-7", media=False)
    await admit(host, "citizen-7")
    await citizen.expect("admitted")
    waiting = await signaling.joined("guest-12", media=False)
    await host.expect("waiting")

    await citizen.send(type="end")
    assert (await citizen.expect("error"))["code"] == "not_allowed"

    await host.send(type="end")
    for peer in (host, citizen, waiting):
        assert (await peer.expect("ended"))["by"] == "staff-3"
        assert await peer.closed() == 4005
    assert ("ended", {"participants": 3}) in signaling.events_of("staff-3")
    assert ("left", {"reason": "ended_by_host"}) in signaling.events_of("citizen-7")
    assert ("left", {"reason": "ended_by_host"}) in signaling.events_of("guest-12")
    await eventually(lambda: signaling.server.stats()["participants"] == 0)
    assert ROOM not in signaling.server.broker.rooms


async def test_a_host_sends_a_notice_to_a_waiting_citizen(signaling):
    host = await signaling.joined("staff-3", role="host", media=False)
    citizen = await signaling.joined("citizen-7", media=False)
    await host.expect("waiting")
    await host.send(type="notice", to="citizen-7", text="Jeg er 5 minutter forsinket")
    notice = await citizen.expect("notice")
    assert notice == {"type": "notice", "text": "Jeg er 5 minutter forsinket", "from": "staff-3"}
    await host.send(type="notice", to="citizen-7", text="x" * 201)
    assert (await host.expect("error"))["code"] == "bad_message"


async def test_a_host_who_arrives_late_sees_who_waits_and_for_how_long(signaling):
    citizen = await signaling.joined("citizen-7", media=False)
    host = await signaling.joined("staff-3", role="host", media=False)
    waiting = await host.expect("waiting_list")
    assert [p["id"] for p in waiting["participants"]] == ["citizen-7"]
    assert time.time() - 5 < waiting["participants"][0]["since"] <= time.time()
    await host.send(type="admit", participant="citizen-7")
    await citizen.expect("admitted")


async def test_chat_reaches_admitted_participants_only(signaling):
    host = await signaling.joined("staff-3", role="host", media=False)
    citizen = await signaling.joined("citizen-7", media=False)
    await admit(host, "citizen-7")
    await citizen.expect("admitted")
    waiting = await signaling.joined("guest-12", media=False)

    await waiting.send(type="chat", text="hej")
    assert (await waiting.expect("error"))["code"] == "not_admitted"
    await citizen.send(type="chat", text="Hej Mette", **{"from": "staff-3"})
    assert await host.expect("chat") == {"type": "chat", "text": "Hej Mette", "from": "citizen-7"}
    await waiting.ping()
    assert not waiting.saw("chat")


async def test_connection_type_reports_reach_the_session_log_once_per_change(signaling):
    host = await signaling.joined("staff-3", role="host", media=False)
    for connection in ("direct", "direct", "relayed"):
        await host.send(type="stats", connection=connection, rtt_ms=42.5)
    await host.ping()
    reports = [d for e, d in signaling.events_of("staff-3") if e == "connection_type"]
    assert reports == [{"type": "direct", "rtt_ms": 42.5}, {"type": "relayed", "rtt_ms": 42.5}]


async def test_closing_the_server_tells_every_client_to_reconnect(signaling):
    host = await signaling.joined("staff-3", role="host", media=False)
    citizen = await signaling.joined("citizen-7", media=False)
    await signaling.server.close()
    assert await host.closed() == 1012
    assert await citizen.closed() == 1012
    assert signaling.server.stats()["connections"] == 0


async def test_a_failing_session_log_does_not_break_signalling(start_signaling, caplog):
    signaling = await start_signaling()

    async def broken(batch):
        raise RuntimeError(f"database down while writing {batch[0].participant.name}")

    signaling.server._on_event = broken  # noqa: SLF001 - the sink the app would pass
    host = await signaling.joined(
        "staff-3",
        role="host",
        media=False,
    )
    citizen = await signaling.joined("citizen-7", media=False)
    await admit(host, "citizen-7")
    await citizen.expect("admitted")
    await host.ping()
    assert "on_event failed" in caplog.text and "RuntimeError" in caplog.text
    assert "Citizen" not in caplog.text and "Staff" not in caplog.text  # ids only, never names


async def test_session_log_events_are_collected_and_handed_on_in_one_batch(start_signaling):
    signaling = await start_signaling(Limits(grace_seconds=1.0, auth_timeout=1.0, event_delay=0.3))
    batches = []

    async def sink(batch):
        batches.append([(e.event, e.participant.id, e.at) for e in batch])

    signaling.server._on_event = sink  # noqa: SLF001 - the sink the app would pass
    before = time.time()
    host = await signaling.joined("staff-3", role="host", media=False)
    citizen = await signaling.joined("citizen-7", media=False)
    await admit(host, "citizen-7")
    await citizen.expect("admitted")
    assert batches == []  # nothing is written while the call is being set up
    await eventually(lambda: batches)
    assert [(event, who) for event, who, _ in batches[0]] == [
        ("joined", "staff-3"),
        ("waiting", "citizen-7"),
        ("admitted", "citizen-7"),
    ]
    assert all(before <= at <= time.time() for _, _, at in batches[0])  # stamped when they happened


async def test_shutdown_writes_the_collected_events_without_waiting(start_signaling):
    signaling = await start_signaling(Limits(grace_seconds=1.0, auth_timeout=1.0, event_delay=60))
    await signaling.joined("staff-3", role="host", media=False)
    started = time.perf_counter()
    await signaling.server.close()
    assert time.perf_counter() - started < 10
    assert signaling.events_of("staff-3")[0] == ("joined", {"waited": False})


async def test_signals_relayed_at_once_keep_their_order_among_the_messages_the_reader_handles(signaling):
    """Offers and candidates for an admitted socket of this process are relayed in the transport's callback (the hot
    path, ``Connection.at_once``, on aiohttp's frame queue ``_Frames``); chat lines go through the connection's reader
    task. Sent back to back, mixed, they still arrive in the order they were sent, each stamped with its sender."""
    host = await signaling.joined("staff-3", role="host", media=False)
    citizen = await signaling.joined("citizen-7", media=False)
    await admit(host, "citizen-7")
    await citizen.expect("admitted")
    await host.expect("participant_joined")
    sender = next(c for c in signaling.server._conns.values() if c.pid == "citizen-7")
    assert sender.ws.frames is sender.ws._reader and sender.ws.frames.conn is sender  # it reads through _Frames

    sent = []
    for i in range(30):
        if i % 3 == 0:
            await citizen.send(type="chat", text=f"line {i}")
            sent.append(("chat", f"line {i}"))
        else:
            await citizen.send(
                type="candidate", to="staff-3", candidate={"candidate": f"candidate:{i} 1 udp 1 x 9 typ host"}
            )
            sent.append(("candidate", f"candidate:{i} 1 udp 1 x 9 typ host"))
    await citizen.send(type="offer", to="staff-3", sdp="v=0 last")
    last = await host.expect("offer", sdp="v=0 last")
    assert last["from"] == "citizen-7"
    got = [
        (m["type"], m["text"] if m["type"] == "chat" else m["candidate"]["candidate"])
        for m in host.messages
        if m["type"] in ("chat", "candidate") and m.get("from") == "citizen-7"
    ]
    assert got == sent
    assert not citizen.saw("error")
