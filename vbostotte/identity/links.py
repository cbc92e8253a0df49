"""Citizens' personal links: a long random token, stored hashed, revocable and re-issuable."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import audit
from vbostotte.actors import Actor
from vbostotte.config import Settings
from vbostotte.errors import NotFound
from vbostotte.identity import sessions
from vbostotte.models import Citizen, PersonalLink

LINK_PATH = "/l/"
TOKEN_BYTES = 32  # 256 bits: unguessable, and short enough to send by SMS


def link_url(settings: Settings, token: str) -> str:
    return settings.base_url.rstrip("/") + LINK_PATH + token


async def active_link(db: AsyncSession, citizen_id: int) -> PersonalLink | None:
    stmt = select(PersonalLink).where(PersonalLink.citizen_id == citizen_id, PersonalLink.revoked_at.is_(None))
    return (await db.execute(stmt)).scalars().first()


async def revoke(db: AsyncSession, actor: Actor, citizen: Citizen, now: dt.datetime) -> bool:
    """Revoke the citizen's link and sign out every device that opened it. True if there was one."""
    link = await active_link(db, citizen.id)
    if link is None:
        return False
    link.revoked_at = now
    await sessions.end_for_link(db, link.id)
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "link.revoke", audit.Purpose.SUPPORT, citizen_id=citizen.id, object_type="personal_link", object_id=link.id
        ),
    )
    return True


async def issue(db: AsyncSession, actor: Actor, citizen: Citizen, now: dt.datetime) -> str:
    """Issue a new link (revoking any earlier one). Returns the token: shown once, never stored."""
    await revoke(db, actor, citizen, now)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    link = PersonalLink(
        citizen_id=citizen.id, token_hash=sessions.token_hash(token), issued_by_id=actor.id, issued_at=now
    )
    db.add(link)
    await db.flush()
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "link.issue", audit.Purpose.SUPPORT, citizen_id=citizen.id, object_type="personal_link", object_id=link.id
        ),
    )
    return token


async def redeem(db: AsyncSession, token: str, now: dt.datetime) -> PersonalLink | None:
    """The live link for ``token``, or None if it is unknown or revoked."""
    if not (20 <= len(token) <= 100):
        return None
    stmt = select(PersonalLink).where(
        PersonalLink.token_hash == sessions.token_hash(token), PersonalLink.revoked_at.is_(None)
    )
    link = (await db.execute(stmt)).scalar_one_or_none()
    if link is not None:
        link.last_used_at = now
    return link


class SignedIn(NamedTuple):
    session: str  # the device's session token (the cookie)
    citizen_id: int


async def sign_in(
    db: AsyncSession, token: str, previous: str | None, settings: Settings, now: dt.datetime
) -> SignedIn | None:
    """A citizen opens their personal link: this device's session, or None if the link does not work. Whatever
    session the browser had ends."""
    link = await redeem(db, token, now)
    if link is None:
        return None
    await sessions.end(db, previous)
    session = await sessions.start_citizen_session(db, link.citizen_id, link.id, settings, now)
    citizen = await db.get(Citizen, link.citizen_id)
    if citizen is None:
        raise NotFound()
    actor = Actor(kind="citizen", id=citizen.id, municipality_id=citizen.municipality_id, role="citizen")
    await audit.record(
        db,
        actor,
        audit.AuditEvent(
            "link.open",
            audit.Purpose.AUTHENTICATION,
            citizen_id=citizen.id,
            object_type="personal_link",
            object_id=link.id,
        ),
    )
    return SignedIn(session, citizen.id)
