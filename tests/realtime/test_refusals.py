"""What the signalling server refuses: foreign pages, bad tickets, guests acting as hosts, forged senders,
messages to other rooms, a fifth participant, and frames it does not speak."""

from __future__ import annotations

import aiohttp
import pytest

from signaling import Limits

from realtime.conftest import ORIGIN, eventually

OFFER = {"type": "offer", "sdp": "v=0\r\n"}


async def admitted_call(signaling, *guests: str, room: str = "appointment-1"):
    """A host and admitted guests, without media."""
    host = await signaling.joined(f"staff-{len(room)}", role="host", media=False, room=room)
    peers = [host]
    for pid in guests:
        guest = await signaling.joined(pid, media=False, room=room)
        await host.expect("waiting", participant={"id": pid, "name": pid.split("-")[0].title(), "role": "guest"})
        await host.send(type="admit", participant=pid)
        await guest.expect("admitted")
        peers.append(guest)
    return peers


async def test_a_foreign_origin_is_refused_before_the_upgrade(signaling, session):
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await session.ws_connect(signaling.url, headers={"Origin": "https://evil.example"})
    assert refused.value.status == 403
    assert signaling.server.stats()["connections"] == 0

    allowed = signaling.peer(media=False, headers={"Origin": ORIGIN})
    assert (await allowed.join(signaling.ticket("staff-3", role="host")))["state"] == "admitted"


@pytest.mark.parametrize("ticket", ["", "no-such-ticket", "x" * 512])
async def test_an_unknown_ticket_is_refused_and_closed(signaling, ticket):
    peer = signaling.peer(media=False)
    await peer.connect()
    await peer.send(type="join", ticket=ticket)
    assert (await peer.expect("error"))["code"] == "unauthorized"
    assert await peer.closed() == 4001


async def test_a_replayed_ticket_is_refused(signaling):
    ticket = signaling.ticket("citizen-7")
    first = signaling.peer(media=False)
    await first.join(ticket)
    second = signaling.peer(media=False)
    await second.connect()
    await second.send(type="join", ticket=ticket)
    assert (await second.expect("error"))["code"] == "unauthorized"
    assert await second.closed() == 4001


async def test_the_first_message_must_be_join_or_resume(signaling):
    peer = signaling.peer(media=False)
    await peer.connect()
    await peer.send(type="offer", to="staff-3", sdp="v=0")
    assert (await peer.expect("error"))["code"] == "not_allowed"
    assert await peer.closed() == 4001


async def test_a_silent_connection_is_closed_after_the_join_timeout(start_signaling):
    signaling = await start_signaling(Limits(auth_timeout=0.2))
    peer = signaling.peer(media=False)
    await peer.connect()
    assert (await peer.expect("error"))["code"] == "auth_timeout"
    assert await peer.closed() == 4003


async def test_a_guest_cannot_admit_anyone_not_even_themselves(signaling):
    host, citizen = await admitted_call(signaling, "citizen-7")
    waiting = await signaling.joined("guest-12", media=False)
    await waiting.send(type="admit", participant="guest-12")
    assert (await waiting.expect("error"))["code"] == "not_allowed"
    await citizen.send(type="admit", participant="guest-12")
    assert (await citizen.expect("error", in_reply_to="admit"))["code"] == "not_allowed"
    await waiting.send(type="offer", to="staff-13", sdp="v=0")
    assert (await waiting.expect("error"))["code"] == "not_admitted"
    await host.ping()
    assert not waiting.saw("admitted") and not host.saw("offer")


async def test_a_forged_sender_is_overwritten_with_the_real_one(signaling):
    host, citizen, interpreter = await admitted_call(signaling, "citizen-7", "guest-12")
    await interpreter.send(**OFFER, to="staff-13", **{"from": "citizen-7"})
    offer = await host.expect("offer")
    assert offer["from"] == "guest-12"
    await interpreter.send(type="candidate", to="citizen-7", candidate=None, **{"from": "staff-13"})
    assert (await citizen.expect("candidate"))["from"] == "guest-12"


async def test_nobody_reaches_another_room_or_a_waiting_participant(signaling):
    host, citizen = await admitted_call(signaling, "citizen-7")
    other_host, other_citizen = await admitted_call(signaling, "citizen-8", room="appointment-22")
    waiting = await signaling.joined("guest-12", media=False)

    for to in (other_host.me["id"], "citizen-8", "guest-12", "citizen-7", "nobody"):
        await citizen.send(**OFFER, to=to)
        error = await citizen.expect("error")
        assert (error["code"], error["in_reply_to"]) == ("unknown_participant", "offer")
    await other_host.ping()
    await other_citizen.ping()
    assert not any(peer.saw("offer") for peer in (other_host, other_citizen, waiting, host))


async def test_a_fifth_participant_is_refused_because_the_room_is_full(signaling):
    await admitted_call(signaling, "citizen-7")
    await signaling.joined("guest-12", media=False)
    await signaling.joined("guest-13", media=False)
    fifth = signaling.peer(media=False)
    await fifth.connect()
    await fifth.send(type="join", ticket=signaling.ticket("guest-14"))
    assert (await fifth.expect("error"))["code"] == "room_full"
    assert await fifth.closed() == 4006
    await eventually(lambda: signaling.server.stats()["participants"] == 4)


async def test_a_binary_frame_is_refused_and_closed(signaling):
    peer = await signaling.joined("staff-3", role="host", media=False)
    await peer.ws.send_bytes(b"\x00\x01")
    assert (await peer.expect("error"))["code"] == "binary_not_supported"
    assert await peer.closed() == 1003


async def test_a_frame_over_64_kib_is_closed_by_the_size_limit(signaling):
    peer = await signaling.joined("staff-3", role="host", media=False)
    await peer.send(type="chat", text="x" * (64 * 1024))
    assert await peer.closed() == 1009
