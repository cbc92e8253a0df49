"""How a call ended (vbostotte/calls/endings.py): what broke the last time the citizen and the worker were
together; a drop that heals is not the ending, and only a connection lost for good is a failed call."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from vbostotte.calls.endings import Ending, ending, lost_for_good

W, C, G = "staff-1", "citizen-7", "guest-3"


@dataclass
class E:
    participant: str
    event: str
    details: dict = field(default_factory=dict)

    @property
    def participant_kind(self) -> str:
        return self.participant.split("-")[0]

    @property
    def role(self) -> str:
        return "host" if self.participant == W else "guest"


def left(who: str, reason: str) -> E:
    return E(who, "left", {"reason": reason})


MEET = [E(W, "joined"), E(C, "waiting"), E(C, "admitted", {"by": W})]
ENDED = [E(W, "ended", {"participants": 2}), left(C, "ended_by_host")]

CASES = {
    "the worker ends it": (MEET + ENDED, Ending.WORKER_ENDED),
    "its time is over": (MEET + [E(W, "ended", {"by": "server"}), left(W, "call_closed")], Ending.TIME_OVER),
    "the citizen hangs up, then the worker": (MEET + [left(C, "hung_up"), left(W, "hung_up")], Ending.CITIZEN_HUNG_UP),
    "the worker hangs up, then the citizen": (MEET + [left(W, "hung_up"), left(C, "hung_up")], Ending.WORKER_HUNG_UP),
    "lost, nobody back, the worker leaves": (MEET + [left(C, "network_lost"), left(W, "hung_up")], Ending.NETWORK_LOST),
    "lost, nobody back, the worker ends": (MEET + [left(C, "network_lost")] + ENDED[:1], Ending.NETWORK_LOST),
    "the worker's connection lost": (MEET + [left(W, "network_lost"), left(C, "hung_up")], Ending.NETWORK_LOST),
    # The bug: she closed her browser (lost for good after the grace period), came back, and the worker then ended
    # the call normally.
    "lost, back through the waiting room, then ended": (
        MEET + [left(C, "network_lost"), E(C, "waiting"), E(C, "admitted", {"by": W})] + ENDED,
        Ending.WORKER_ENDED,
    ),
    "dropped and resumed within the grace period": (
        MEET + [E(C, "reconnected"), left(C, "hung_up"), left(W, "hung_up")],
        Ending.CITIZEN_HUNG_UP,
    ),
    "back on another device": (MEET + [left(C, "replaced"), E(C, "joined")] + ENDED, Ending.WORKER_ENDED),
    "lost, back, then lost for good": (
        MEET + [left(C, "network_lost"), E(C, "waiting"), E(C, "admitted"), left(C, "network_lost")],
        Ending.NETWORK_LOST,
    ),
    "access ended": (MEET + [left(C, "removed"), left(W, "hung_up")], Ending.ACCESS_ENDED),
    "a guest leaving changes nothing": (
        MEET + [E(G, "admitted"), left(G, "network_lost")] + ENDED,
        Ending.WORKER_ENDED,
    ),
    "never let in: she gives up": ([E(W, "joined"), E(C, "waiting"), left(C, "hung_up")], Ending.CITIZEN_HUNG_UP),
    "still going": (MEET + [left(C, "network_lost"), E(C, "waiting"), E(C, "admitted")], None),
    "nothing happened": ([], None),
}


@pytest.mark.parametrize("name", list(CASES))
def test_how_the_call_ended(name):
    events, expected = CASES[name]
    assert ending(events) == expected


@pytest.mark.parametrize("name", list(CASES))
def test_only_a_connection_lost_for_good_is_a_failure(name):
    events, expected = CASES[name]
    assert lost_for_good(events) == (expected == Ending.NETWORK_LOST)
