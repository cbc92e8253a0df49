"""The relay's fast check of a message's fields (``protocol._VALID``, built once per message) and the check that
says what is wrong (``protocol._check_fields``) give the same verdict on every frame of the malformed-input corpus
and on valid messages of every kind."""

from __future__ import annotations

import orjson
import pytest

from signaling import protocol as p
from signaling.protocol import CLIENT_MESSAGES, ENVELOPE_FIELDS, ProtocolError

from realtime.test_malformed_input import bad_frames

VALID = [
    {"type": "join", "ticket": "t" * 512},
    {"type": "resume", "token": "t"},
    {"type": "ping"},
    {"type": "ping", "ts": 0},
    {"type": "ping", "ts": 1e15},
    {"type": "leave", "from": "anyone"},
    {"type": "admit", "participant": "citizen-7"},
    {"type": "notice", "to": "citizen-7", "text": ""},
    {"type": "end"},
    {"type": "offer", "to": "x" * 64, "sdp": "v=0"},
    {"type": "answer", "to": "staff-3", "sdp": "s" * 60_000},
    {"type": "candidate", "to": "staff-3", "candidate": None},
    {"type": "candidate", "to": "staff-3", "candidate": {"candidate": ""}},
    {
        "type": "candidate",
        "to": "staff-3",
        "candidate": {"candidate": "c", "sdpMid": None, "sdpMLineIndex": 255, "usernameFragment": None},
    },
    {"type": "chat", "text": "x" * 500},
    {"type": "media", "audio": "on", "video": "off", "screen": "on"},
    {"type": "stats", "connection": "relayed", "rtt_ms": None},
    {"type": "stats", "connection": "direct", "rtt_ms": 600_000},
]


def slow_verdict(kind: str, message: dict) -> bool:
    try:
        p._check_fields(CLIENT_MESSAGES[kind].fields, message, kind, ENVELOPE_FIELDS)
    except ProtocolError:
        return False
    return True


def messages() -> list[dict]:
    found = list(VALID)
    for frame in bad_frames():
        try:
            message = orjson.loads(frame)
        except (ValueError, RecursionError):
            continue
        if type(message) is dict and type(message.get("type")) is str and message["type"] in CLIENT_MESSAGES:
            found.append(message)
    for base in VALID:  # each field of each valid message over its limits and beside its bounds
        for name in base:
            if name in ENVELOPE_FIELDS:
                continue
            for other in (None, True, 1, -1, 2.5, 256, 1e15 + 1, "", "off", "x" * 65, [], {}):
                found.append({**base, name: other})
    return found


def test_the_fast_check_and_the_one_that_explains_agree_on_every_message():
    checked = messages()
    assert len(checked) > 500
    refused = 0
    for message in checked:
        kind = message["type"]
        fast, slow = p._VALID[kind](message), slow_verdict(kind, message)
        assert fast == slow, message
        refused += not fast
    assert 100 < refused < len(checked) - len(VALID)  # both verdicts are well represented


@pytest.mark.parametrize("message", VALID, ids=lambda m: m["type"])
def test_a_valid_message_parses_and_a_wrong_field_is_named(message):
    text = orjson.dumps(message).decode()
    phase = p.AUTH if message["type"] in ("join", "resume") else p.ADMITTED
    assert p.parse(text, phase, True) == (message["type"], message)
    if message["type"] in ("offer", "answer"):
        with pytest.raises(ProtocolError, match="field 'sdp' must be a string"):
            p.parse(orjson.dumps({**message, "sdp": 1}).decode(), phase, True)
