"""The connection test's ICE servers: who gets TURN credentials in it, for how long and how often.

Only people who can be in a call get TURN credentials (citizens and support workers; guests only with a call
ticket, never here): administrators and supervisors take part in no call, so their test uses STUN and their own
addresses only. The credentials live minutes (the page is opened, Start pressed, the echo lasts at most two
minutes), and each person gets at most ``TESTS_PER_WINDOW`` sets per ``WINDOW``, counted in ``turn_grants``
(shared by every process), which keeps only the window's rows.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte.actors import Actor
from vbostotte.calls import calls
from vbostotte.config import Settings
from vbostotte.errors import Throttled
from vbostotte.i18n import N_
from vbostotte.models import StaffRole, TurnGrant

TURN_SECONDS = 10 * 60  # the connection test's TURN credentials: opening the page and one test, with room to spare
TESTS_PER_WINDOW, WINDOW = 10, dt.timedelta(minutes=10)  # a few tries and reloads; a wall for scripts


class TooManyTests(Throttled):
    message = N_("You have started the connection test many times. Please wait a few minutes and try again.")


def takes_part_in_calls(actor: Actor) -> bool:
    """Citizens and support workers are in calls; administrators and supervisors never are."""
    return actor.is_citizen or actor.has_role(StaffRole.WORKER)


def uses_relay(actor: Actor, settings: Settings) -> bool:
    """Whether ``actor``'s connection test gets TURN credentials (and so can say "via the relay server")."""
    return takes_part_in_calls(actor) and bool(settings.turn_urls and settings.turn_secret)


async def servers_for_page(db: AsyncSession, actor: Actor, settings: Settings, now: dt.datetime) -> list[dict]:
    """The ICE servers handed to ``actor``'s browser for one connection test; raises :class:`TooManyTests` once
    they have had ``TESTS_PER_WINDOW`` sets of TURN credentials within ``WINDOW``."""
    if not uses_relay(actor, settings):
        return calls.ice_servers_for(settings, turn=False)
    await db.execute(
        delete(TurnGrant).where(TurnGrant.issued_at <= now - WINDOW).execution_options(synchronize_session=False)
    )
    recent = await db.execute(
        select(func.count())
        .select_from(TurnGrant)
        .where(TurnGrant.principal_kind == actor.kind, TurnGrant.principal_id == actor.id)
    )
    if recent.scalar_one() >= TESTS_PER_WINDOW:
        raise TooManyTests()
    db.add(TurnGrant(principal_kind=actor.kind, principal_id=actor.id, issued_at=now))
    await db.flush()
    return calls.ice_servers_for(settings, ttl_seconds=TURN_SECONDS)


def servers_for_echo(actor: Actor, settings: Settings) -> list[dict]:
    """The ICE servers of the server's own echo peer in ``actor``'s test: the same kind as their browser's (its
    credentials never leave the server, so they are not counted)."""
    return calls.ice_servers_for(settings, ttl_seconds=TURN_SECONDS, turn=uses_relay(actor, settings))
