"""How a call ended, worked out from its events by one rule (docs/signaling.md, "How a call ended").

The conversation is the citizen and the worker (a host) being in the call together. It can break and heal: a
citizen who closes her browser and comes back, or whose phone changes networks, is together with the worker
again. What ended the call is **what broke the last time they were together**, and nothing, while they still are:

* the worker ends it for everyone (``ended``): *worker_ended*; the application ends it because its time is over
  (``ended`` by the server): *time_over*;
* someone hangs up so that they are no longer together: *citizen_hung_up* / *worker_hung_up* ("everyone left":
  the last one out after that changes nothing);
* a connection was lost and its owner did not come back within the grace period (the signalling server says
  ``left`` with reason ``network_lost`` only then; a drop healed within it is ``reconnected``): *network_lost*;
* the application took someone out because their access ended (``removed``): *access_ended*.

A drop that heals — the same person back within the grace period, back on another device (``replaced``), or back
through the waiting room later and let in again — is not how the call ended: a later ending replaces it. A call in
which the two were never together ended by its first ending event (the worker waited and hung up, the citizen
was never let in). Only *network_lost* counts as a failed connection in the statistics.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any, Protocol

from signaling.protocol import ENDED_BY_SERVER
from vbostotte.models import CallEventName, PrincipalKind

HOST = "host"


class Ending(enum.StrEnum):
    WORKER_ENDED = "worker_ended"
    TIME_OVER = "time_over"
    CITIZEN_HUNG_UP = "citizen_hung_up"
    WORKER_HUNG_UP = "worker_hung_up"
    NETWORK_LOST = "network_lost"
    ACCESS_ENDED = "access_ended"


class Happening(Protocol):
    """What the rule reads of a call event (a ``CallEvent`` row has it)."""

    @property
    def event(self) -> str: ...
    @property
    def participant(self) -> str: ...
    @property
    def participant_kind(self) -> str | None: ...
    @property
    def role(self) -> str: ...
    @property
    def details(self) -> dict[str, Any]: ...


ENTERING = (CallEventName.JOINED, CallEventName.ADMITTED, CallEventName.RECONNECTED)
# A ``left`` reason that ends something; "replaced" (back on another device) never does, and "ended_by_host" /
# "call_closed" come with the ``ended`` event that says it.
LEAVING = {"hung_up", "network_lost", "removed"}


def _leaving(e: Happening) -> Ending:
    reason = e.details.get("reason")
    if reason == "network_lost":
        return Ending.NETWORK_LOST
    if reason == "removed":
        return Ending.ACCESS_ENDED
    return Ending.CITIZEN_HUNG_UP if e.participant_kind == PrincipalKind.CITIZEN else Ending.WORKER_HUNG_UP


def ending(events: Iterable[Happening]) -> Ending | None:
    """How the call of these events (in the order they happened) ended; None while it goes on or if unknown."""
    present: dict[str, Happening] = {}  # who is in the call (let in), by participant id

    def together() -> bool:
        kinds = {(p.participant_kind, p.role) for p in present.values()}
        return any(k == PrincipalKind.CITIZEN for k, _ in kinds) and any(r == HOST for _, r in kinds)

    found: Ending | None = None
    ever_together = now = False
    for e in events:
        was = now  # only an event changes who is in the call
        if e.event in ENTERING:
            present[e.participant] = e
        elif e.event == CallEventName.LEFT:
            present.pop(e.participant, None)
        elif e.event == CallEventName.ENDED:
            present.clear()
        now = together()
        ever_together |= now
        if now:
            found = None  # together (again): whatever broke it before healed
            continue
        if e.event == CallEventName.ENDED:
            candidate = Ending.TIME_OVER if e.details.get("by") == ENDED_BY_SERVER else Ending.WORKER_ENDED
        elif e.event == CallEventName.LEFT and e.details.get("reason") in LEAVING:
            candidate = _leaving(e)
        else:
            continue
        if was or (found is None and not ever_together):
            found = candidate  # this broke the conversation (or, in a call that never got going, ended it first)
    return found


def lost_for_good(events: Iterable[Happening]) -> bool:
    """Did the call fail because a connection was lost (and not healed)? What the statistics count as failed."""
    return ending(events) == Ending.NETWORK_LOST
