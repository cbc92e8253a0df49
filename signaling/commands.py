"""What each client message does once its sender has joined: relay, chat, ping, stats, leave, and the
host's admit, notice and end. Each takes the sender's connection, the validated message and the frame as it came."""

from __future__ import annotations

import time
from typing import Any

from signaling import protocol as p
from signaling.broker import ADMITTED_MEMBERS, Envelope
from signaling.protocol import ProtocolError, encode, message
from signaling.rooms import Member, token_key
from signaling.types import Participant, Peer


def joined(conn: Peer) -> Participant:
    """The sender: every command comes after join or resume (``protocol.parse`` refuses it before)."""
    if conn.participant is None:
        raise ProtocolError(p.NOT_ALLOWED, "send join or resume first")
    return conn.participant


def shown(m: Member) -> dict[str, str]:
    """How a participant is shown to others."""
    return p.person(m.id, m.name, m.role)


async def relay(conn: Peer, msg: dict[str, Any], text: str) -> None:
    """Offer, answer or candidate to one admitted participant of the same room, stamped with the sender."""
    to = msg["to"]
    if to == conn.pid or not await conn.server.relay(conn.room, to, stamped(conn.pid, msg, text)):
        raise ProtocolError(p.UNKNOWN_PARTICIPANT, "no admitted participant by that id in this call", msg["type"])


def stamped(pid: str, msg: dict[str, Any], text: str) -> str:
    """The validated frame with the server's ``from`` stamp: a client can never speak for someone else.

    The hot path of the relay: when the client sent no ``from``, the stamp is appended to the frame as it came
    (valid JSON, an object, nothing but the declared fields: ``parse`` checked all that) instead of serialising
    the message again; a frame that names a ``from`` itself (under any spelling) is serialised anew."""
    if "from" not in msg:
        end = text.rstrip()
        if end.endswith("}"):
            return f'{end[:-1]},"from":{encode(pid)}}}'
    msg["from"] = pid
    return encode(msg)


async def chat(conn: Peer, msg: dict[str, Any], _text: str) -> None:
    """A chat line to every other admitted participant (not stored)."""
    msg["from"] = conn.pid
    await conn.server.send(conn.room, Envelope(to=ADMITTED_MEMBERS, exclude=conn.pid, text=encode(msg)))


async def media(conn: Peer, msg: dict[str, Any], text: str) -> None:
    """The sender's microphone/camera state, to every other admitted participant (relayed like a chat line)."""
    await chat(conn, msg, text)


async def ping(conn: Peer, msg: dict[str, Any], _text: str) -> None:
    """The application heartbeat."""
    conn.send(message("pong", ts=msg["ts"]) if "ts" in msg else message("pong"))


async def stats(conn: Peer, msg: dict[str, Any], _text: str) -> None:
    """The client's connection type, for the session log when it changes."""
    if msg["connection"] != conn.connection_type:  # the session log wants changes, not every report
        conn.connection_type = msg["connection"]
        conn.server.emit("connection_type", joined(conn), {"type": msg["connection"], "rtt_ms": msg.get("rtt_ms")})


async def leave(conn: Peer, msg: dict[str, Any], _text: str) -> None:
    """Hang up: give up the place, tell the others, close normally."""
    place = await conn.server.rooms.leave(conn.room, conn.pid, conn.id)
    conn.reason = "hung_up"  # only now: a leave that failed (busy room) keeps the exit that gives up the place
    await conn.server.broker.drop_token(token_key(conn.token))
    if place is not None:
        await conn.server.send(
            conn.room,
            Envelope(
                to=place.audience,
                exclude=conn.pid,
                text=message("participant_left", participant=conn.pid, reason="hung_up"),
            ),
        )
        conn.server.emit("left", joined(conn), {"reason": "hung_up"})
    conn.close(p.CLOSE_NORMAL, "hung_up")


async def admit(conn: Peer, msg: dict[str, Any], _text: str) -> None:
    """A host lets a waiting participant in."""
    pid = msg["participant"]
    place = await conn.server.rooms.admit(conn.room, pid)
    if place is None:
        raise ProtocolError(p.UNKNOWN_PARTICIPANT, "nobody by that id is waiting", "admit")
    members = await conn.server.rooms.members(conn.room)
    others = [shown(m) for m in members if m.admitted and m.id != pid]
    await conn.server.send(
        conn.room, Envelope(to=pid, action="admit", text=message("admitted", participants=others, by=conn.pid))
    )
    await conn.server.send(
        conn.room,
        Envelope(to=ADMITTED_MEMBERS, exclude=pid, text=message("participant_joined", participant=shown(place))),
    )
    conn.server.emit(
        "admitted",
        place.participant(conn.room),
        {"by": conn.pid, "waited_seconds": round(max(0.0, time.time() - place.since), 1)},
    )


async def notice(conn: Peer, msg: dict[str, Any], _text: str) -> None:
    """A host's short text to a waiting participant."""
    place = await conn.server.rooms.member(conn.room, msg["to"])
    if place is None or place.admitted:
        raise ProtocolError(p.UNKNOWN_PARTICIPANT, "nobody by that id is waiting", "notice")
    await conn.server.send(
        conn.room, Envelope(to=place.id, text=message("notice", text=msg["text"], **{"from": conn.pid}))
    )


async def end(conn: Peer, msg: dict[str, Any], _text: str) -> None:
    """A host ends the call: everyone is told and closed, the room is emptied."""
    await conn.server.end_room(conn.room, by=conn.participant)
    conn.reason = "ended"  # only now, as for leave


COMMANDS = {
    "offer": relay,
    "answer": relay,
    "candidate": relay,
    "chat": chat,
    "media": media,
    "ping": ping,
    "stats": stats,
    "leave": leave,
    "admit": admit,
    "notice": notice,
    "end": end,
}
assert set(COMMANDS) | {"join", "resume"} == set(p.CLIENT_MESSAGES), "every client message has a handler"
