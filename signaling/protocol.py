"""The wire protocol, declared once as data: every client message, its fields and who may send it;
error codes and close codes; one parser that validates; the server's replies built in one place.

Documented for people in ``docs/signaling.md``; a test checks that every name here appears there.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

# -- error codes: {"type": "error", "code": ..., "message": ...}; English, the page translates ----------
BAD_JSON = "bad_json"  # the frame is not valid JSON (or is nested too deep to parse)
BAD_MESSAGE = "bad_message"  # not an object, a field missing, unknown, of the wrong type or too long
UNKNOWN_TYPE = "unknown_type"  # "type" is missing or not a message the server knows
NOT_ALLOWED = "not_allowed"  # this role or phase may not send this message (a guest sending "admit")
NOT_ADMITTED = "not_admitted"  # media signalling or chat before being admitted
UNKNOWN_PARTICIPANT = "unknown_participant"  # "to"/"participant" is not a (suitable) member of this room
UNAUTHORIZED = "unauthorized"  # the join ticket was refused, or the first message was not join/resume
RESUME_FAILED = "resume_failed"  # the resume token is unknown, used or expired: join again with a new ticket
AUTH_TIMEOUT = "auth_timeout"  # no join/resume within the time allowed
ROOM_FULL = "room_full"  # the room already has its maximum number of participants
RATE_LIMITED = "rate_limited"  # too many messages; this one was dropped
BINARY_NOT_SUPPORTED = "binary_not_supported"  # binary frames are refused
INTERNAL_ERROR = "internal_error"  # the server failed handling this connection

ERROR_CODES = (
    BAD_JSON,
    BAD_MESSAGE,
    UNKNOWN_TYPE,
    NOT_ALLOWED,
    NOT_ADMITTED,
    UNKNOWN_PARTICIPANT,
    UNAUTHORIZED,
    RESUME_FAILED,
    AUTH_TIMEOUT,
    ROOM_FULL,
    RATE_LIMITED,
    BINARY_NOT_SUPPORTED,
    INTERNAL_ERROR,
)

# -- close codes -----------------------------------------------------------------------------------------
CLOSE_NORMAL = 1000  # after "leave"
CLOSE_UNSUPPORTED_DATA = 1003  # a binary frame
CLOSE_MESSAGE_TOO_BIG = 1009  # a frame over the size limit (sent by aiohttp itself)
CLOSE_INTERNAL_ERROR = 1011  # the server failed; reconnect and resume
CLOSE_SERVICE_RESTART = 1012  # the server is shutting down; reconnect (with back-off) and resume
CLOSE_UNAUTHORIZED = 4001  # ticket refused or first message not join/resume: get a new ticket
CLOSE_RESUME_FAILED = 4002  # resume token refused: join again with a new ticket
CLOSE_AUTH_TIMEOUT = 4003  # no join/resume in time
CLOSE_REPLACED = 4004  # the same participant connected again elsewhere; do not reconnect
CLOSE_ENDED = 4005  # the host ended the call; do not reconnect
CLOSE_ROOM_FULL = 4006  # the room is full; do not reconnect
CLOSE_RATE_LIMITED = 4008  # kept flooding after being rate limited; reconnect and resume
CLOSE_TOO_SLOW = 4009  # did not read its messages (outgoing queue full); reconnect and resume
CLOSE_REMOVED = 4010  # the application ended this participant's access to the call; do not reconnect

CLOSE_CODES = (
    CLOSE_NORMAL,
    CLOSE_UNSUPPORTED_DATA,
    CLOSE_MESSAGE_TOO_BIG,
    CLOSE_INTERNAL_ERROR,
    CLOSE_SERVICE_RESTART,
    CLOSE_UNAUTHORIZED,
    CLOSE_RESUME_FAILED,
    CLOSE_AUTH_TIMEOUT,
    CLOSE_REPLACED,
    CLOSE_ENDED,
    CLOSE_ROOM_FULL,
    CLOSE_RATE_LIMITED,
    CLOSE_TOO_SLOW,
    CLOSE_REMOVED,
)

# -- phases of a connection, and roles ----------------------------------------------------------------------
AUTH = "auth"  # connected, not yet joined: only join/resume
MEMBER = "member"  # joined, waiting or admitted
ADMITTED = "admitted"  # admitted into the call
HOST, GUEST = "host", "guest"
ROLES = (HOST, GUEST)

# Fields any message may carry: "type" itself, and "from", which the server always overwrites.
ENVELOPE_FIELDS = frozenset({"type", "from"})


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a message: its JSON type and limits."""

    kind: str  # "str" | "int" | "number" | "object"
    required: bool = True
    nullable: bool = False
    max_len: int = 0  # for "str": the most characters allowed (0: no limit beyond the frame size)
    choices: frozenset[str] = frozenset()
    minimum: float = 0.0  # for "int"/"number"
    maximum: float = 1e15  # finite: JSON has no Infinity
    fields: Mapping[str, Field] = field(default_factory=dict)  # for "object": its own fields


@dataclass(frozen=True, slots=True)
class Message:
    """A message a client may send: its fields, the phase it is allowed in, and whether only a host may."""

    fields: Mapping[str, Field]
    phase: str = ADMITTED
    host_only: bool = False
    summary: str = ""


PARTICIPANT_ID = Field("str", max_len=64)
SDP = Field("str", max_len=60_000)
ICE_CANDIDATE = Field(
    "object",
    nullable=True,
    fields={  # RTCIceCandidateInit as a browser sends it; null ends
        "candidate": Field("str", max_len=1024),
        "sdpMid": Field("str", required=False, nullable=True, max_len=64),
        "sdpMLineIndex": Field("int", required=False, nullable=True, maximum=255),
        "usernameFragment": Field("str", required=False, nullable=True, max_len=256),
    },
)

CLIENT_MESSAGES: dict[str, Message] = {
    "join": Message(
        {"ticket": Field("str", max_len=512)}, phase=AUTH, summary="first message: the one-use join ticket"
    ),
    "resume": Message(
        {"token": Field("str", max_len=128)},
        phase=AUTH,
        summary="first message after a dropped connection: the resume token from 'joined'",
    ),
    "ping": Message(
        {"ts": Field("number", required=False)},
        phase=MEMBER,
        summary="application heartbeat; answered by 'pong' echoing ts",
    ),
    "leave": Message({}, phase=MEMBER, summary="hang up; the server answers by closing with 1000"),
    "admit": Message({"participant": PARTICIPANT_ID}, host_only=True, summary="let a waiting participant in"),
    "notice": Message(
        {"to": PARTICIPANT_ID, "text": Field("str", max_len=200)},
        host_only=True,
        summary="a short text to a waiting participant",
    ),
    "end": Message({}, host_only=True, summary="end the call for everyone"),
    "offer": Message({"to": PARTICIPANT_ID, "sdp": SDP}, summary="SDP offer, relayed to 'to'"),
    "answer": Message({"to": PARTICIPANT_ID, "sdp": SDP}, summary="SDP answer, relayed to 'to'"),
    "candidate": Message({"to": PARTICIPANT_ID, "candidate": ICE_CANDIDATE}, summary="ICE candidate, relayed"),
    "chat": Message({"text": Field("str", max_len=500)}, summary="a chat line to every admitted participant"),
    "media": Message(
        {
            "audio": Field("str", choices=frozenset({"on", "off"})),
            "video": Field("str", choices=frozenset({"on", "off"})),
            "audio_only": Field("str", required=False, choices=frozenset({"on", "off"})),
            "screen": Field("str", required=False, choices=frozenset({"on", "off"})),
        },
        summary="the sender's microphone, camera and screen state (muted, camera off, sound only, sharing), to the others",
    ),
    "stats": Message(
        {
            "connection": Field("str", choices=frozenset({"direct", "relayed"})),
            "rtt_ms": Field("number", required=False, nullable=True, maximum=600_000),
        },
        summary="the client's connection type and round-trip time, for the session log",
    ),
}
RELAYED = frozenset({"offer", "answer", "candidate"})

# Messages the server sends (documented; built by the functions below).
SERVER_MESSAGES = (
    "joined",
    "waiting_list",
    "waiting",
    "admitted",
    "participant_joined",
    "participant_left",
    "participant_reconnecting",
    "participant_reconnected",
    "notice",
    "chat",
    "media",
    "offer",
    "answer",
    "candidate",
    "ended",
    "pong",
    "error",
)
LEAVE_REASONS = ("hung_up", "network_lost", "ended_by_host", "replaced", "removed")
ENDED_BY_SERVER = "server"  # ``ended``'s "by" when the application ended the call (its time is over), not a host


class ProtocolError(Exception):
    """A message the server refuses: answered with an error reply (and, in some phases, a close)."""

    def __init__(self, code: str, message: str, in_reply_to: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.in_reply_to = code, message, in_reply_to

    def reply(self) -> str:
        return error(self.code, self.message, self.in_reply_to)


def encode(value: Any) -> str:
    """Compact JSON (orjson: the relay's parsing and writing are most of its work per message). A lone surrogate
    cannot come from a client (``parse`` refuses it), but would be escaped by the standard encoder, not fail."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _ascii_encode(value)


_ascii_encode = json.JSONEncoder(separators=(",", ":")).encode


def parse(text: str, phase: str, is_host: bool) -> tuple[str, dict[str, Any]]:
    """Parse and validate one client frame; returns (type, message) or raises ProtocolError."""
    try:
        message = orjson.loads(text)  # strict JSON: no NaN, no lone surrogates, nesting at most 1,024 deep
    except (ValueError, RecursionError):
        raise ProtocolError(BAD_JSON, "the message is not valid JSON") from None
    if type(message) is not dict:
        raise ProtocolError(BAD_MESSAGE, "a message must be a JSON object")
    kind = message.get("type")
    if type(kind) is not str or (spec := CLIENT_MESSAGES.get(kind)) is None:
        raise ProtocolError(UNKNOWN_TYPE, "unknown message type")
    valid = _ALLOWED.get((kind, phase, is_host))  # the common case: one look-up for who may send it, when
    if valid is None:
        raise _refusal(spec, kind, phase, is_host) or ProtocolError(NOT_ALLOWED, "not allowed", kind)
    if not valid(message):
        _check_fields(spec.fields, message, kind, ENVELOPE_FIELDS)  # says what is wrong
    return kind, message


def _refusal(spec: Message, kind: str, phase: str, is_host: bool) -> ProtocolError | None:
    """Why a message of this type may not be sent in this phase, by a host or not; None if it may."""
    if (phase == AUTH) != (spec.phase == AUTH):
        return ProtocolError(NOT_ALLOWED, "send join or resume first" if phase == AUTH else "already joined", kind)
    if spec.host_only and not is_host:
        return ProtocolError(NOT_ALLOWED, "only the host may do that", kind)
    if spec.phase == ADMITTED and phase != ADMITTED:
        return ProtocolError(NOT_ADMITTED, "not admitted to the call yet", kind)
    return None


def _check_fields(fields: Mapping[str, Field], value: dict, kind: str, extra: frozenset[str] = frozenset()) -> None:
    allowed, required = _shape(fields, extra)
    names = value.keys()
    if not (names <= allowed and required <= names):  # set operations in C: the common case costs two of them
        for name in value:
            if name not in allowed:
                raise ProtocolError(BAD_MESSAGE, f"unknown field {_quote(name)}", kind)
        missing = next(name for name in fields if name in required and name not in value)
        raise ProtocolError(BAD_MESSAGE, f"missing field {missing!r}", kind)
    for name, spec in fields.items():
        if name in value:
            _check_value(spec, value[name], name, kind)


_SHAPES: dict[tuple[int, frozenset[str]], tuple[frozenset[str], frozenset[str]]] = {}


def _shape(fields: Mapping[str, Field], extra: frozenset[str]) -> tuple[frozenset[str], frozenset[str]]:
    """The field names a message may have and those it must have (computed once per declared message)."""
    key = (id(fields), extra)
    shape = _SHAPES.get(key)
    if shape is None:
        shape = _SHAPES[key] = (frozenset(fields) | extra, frozenset(n for n, f in fields.items() if f.required))
    return shape


def _check_value(spec: Field, value: Any, name: str, kind: str) -> None:
    if value is None:
        if spec.nullable:
            return
        raise ProtocolError(BAD_MESSAGE, f"field {name!r} may not be null", kind)
    t = type(value)
    if spec.kind == "str":
        if t is not str:
            raise ProtocolError(BAD_MESSAGE, f"field {name!r} must be a string", kind)
        if spec.max_len and len(value) > spec.max_len:
            raise ProtocolError(BAD_MESSAGE, f"field {name!r} is longer than {spec.max_len} characters", kind)
        if spec.choices and value not in spec.choices:
            raise ProtocolError(BAD_MESSAGE, f"field {name!r} must be one of {sorted(spec.choices)}", kind)
    elif spec.kind in ("int", "number"):
        if not (t is int or (t is float and spec.kind == "number")) or not spec.minimum <= value <= spec.maximum:
            raise ProtocolError(BAD_MESSAGE, f"field {name!r} must be a {spec.kind} in range", kind)
    elif spec.kind == "object":
        if t is not dict:
            raise ProtocolError(BAD_MESSAGE, f"field {name!r} must be an object", kind)
        _check_fields(spec.fields, value, kind)


def _fields_check(fields: Mapping[str, Field], extra: frozenset[str] = frozenset()) -> Callable[[dict], bool]:
    """The fields' rules as one function, written out once per message as straight-line code (no loop, no call per
    field): True when the message keeps them all. The relay's hot path (every offer, answer and candidate) runs it;
    when it says no, ``_check_fields`` finds what is wrong and says so. tests/unit/test_protocol_checks.py holds the
    two to the same verdicts."""
    namespace: dict[str, Any] = {}
    source = (
        "def valid(value):\n" + "".join(_fields_code(fields, extra, "value", namespace, "    ")) + "    return True\n"
    )
    exec(source, namespace)  # noqa: S102 - code made here from the declared fields, never from input
    return namespace["valid"]


def _fields_code(
    fields: Mapping[str, Field], extra: frozenset[str], var: str, namespace: dict, indent: str
) -> list[str]:
    """Lines that return False unless the dict ``var`` has exactly these fields, each as declared."""
    allowed, required = _shape(fields, extra)
    a, r = f"_allowed_{var}", f"_required_{var}"
    namespace[a], namespace[r] = allowed, required
    lines = [f"{indent}if not ({var}.keys() <= {a} and {r} <= {var}.keys()):\n", f"{indent}    return False\n"]
    for i, (name, spec) in enumerate(fields.items()):
        item, inner = f"{var}_{i}", indent
        if not spec.required:
            lines.append(f"{indent}if {name!r} in {var}:\n")
            inner += "    "
        lines.append(f"{inner}{item} = {var}[{name!r}]\n")
        lines += _value_code(spec, item, namespace, inner)
    return lines


def _value_code(spec: Field, var: str, namespace: dict, indent: str) -> list[str]:
    """Lines that return False unless ``var`` is as ``spec`` declares (``_check_value``'s rule)."""
    if spec.nullable:
        return [
            f"{indent}if {var} is not None:\n",
            *_value_code(replace(spec, nullable=False), var, namespace, indent + "    "),
        ]
    if spec.kind == "object":
        return [f"{indent}if type({var}) is not dict:\n", f"{indent}    return False\n"] + _fields_code(
            spec.fields, frozenset(), var, namespace, indent
        )
    if spec.kind == "str":
        wrong = f"type({var}) is not str"
        if spec.max_len:
            wrong += f" or len({var}) > {spec.max_len}"
        if spec.choices:
            namespace[f"_choices_{var}"] = spec.choices
            wrong += f" or {var} not in _choices_{var}"
    else:
        number = f" and type({var}) is not float" if spec.kind == "number" else ""
        wrong = f"(type({var}) is not int{number}) or not {spec.minimum!r} <= {var} <= {spec.maximum!r}"
    return [f"{indent}if {wrong}:\n", f"{indent}    return False\n"]


_VALID = {kind: _fields_check(spec.fields, ENVELOPE_FIELDS) for kind, spec in CLIENT_MESSAGES.items()}
# (type, phase, sent by a host) -> the fields' check, for every message that may be sent so
_ALLOWED = {
    (kind, phase, host): _VALID[kind]
    for kind, spec in CLIENT_MESSAGES.items()
    for phase in (AUTH, MEMBER, ADMITTED)
    for host in (False, True)
    if _refusal(spec, kind, phase, host) is None
}


def _quote(name: str) -> str:
    return repr(name[:40])


# -- what the server sends ------------------------------------------------------------------------------------
def error(code: str, message: str, in_reply_to: str | None = None) -> str:
    reply = {"type": "error", "code": code, "message": message}
    if in_reply_to:
        reply["in_reply_to"] = in_reply_to
    return encode(reply)


def person(pid: str, name: str, role: str) -> dict[str, str]:
    """How a participant is shown to others."""
    return {"id": pid, "name": name, "role": role}


def message(kind: str, **fields: Any) -> str:
    """A server message of ``kind`` (one of SERVER_MESSAGES) with its fields."""
    return encode({"type": kind, **fields})
