"""WebRTC signalling for video sessions: rooms, participants, the wire protocol and fan-out.

Knows rooms and participants but not bookings: who may join a room is passed in as a function.
Never imports ``vbostotte``. The protocol is documented in ``docs/signaling.md``.
"""

from signaling.broker import Broker, InProcessBroker, RedisBroker
from signaling.rooms import Participant
from signaling.server import SignalingServer
from signaling.types import Authorize, Event, EventSink, Limits

__all__ = [
    "Authorize",
    "Broker",
    "Event",
    "EventSink",
    "InProcessBroker",
    "Limits",
    "Participant",
    "RedisBroker",
    "SignalingServer",
]
