"""Personal API tokens: how a municipal system calls the JSON API as a staff member without a browser
session. The token is shown once; only its SHA-256 is kept. A token works only under ``/api/v1/``,
only until it expires or is revoked, and only while its owner's account is active."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte import access, audit
from vbostotte.actors import Actor
from vbostotte.errors import InvalidInput, NotFound
from vbostotte.i18n import N_
from vbostotte.identity import sessions
from vbostotte.models import ApiToken, Staff, StaffRole

PREFIX = "vbt_"
LIFETIMES_DAYS = (30, 90)  # a token is renewed, never everlasting
MAX_ACTIVE = 5
ROLES = (StaffRole.WORKER, StaffRole.SUPERVISOR)  # the roles the API serves


def _live(now: dt.datetime):
    return (ApiToken.revoked_at.is_(None), ApiToken.expires_at > now)


async def active_tokens(db: AsyncSession, actor: Actor, now: dt.datetime) -> list[ApiToken]:
    access.require_role(actor, *ROLES)
    stmt = select(ApiToken).where(ApiToken.staff_id == actor.id, *_live(now)).order_by(ApiToken.created_at.desc())
    return list((await db.execute(stmt)).scalars())


async def create(db: AsyncSession, actor: Actor, label: str, days: int, now: dt.datetime) -> str:
    """A new token for ``actor``; returns it (shown once, never stored)."""
    access.require_role(actor, *ROLES)
    if days not in LIFETIMES_DAYS:
        raise InvalidInput({"days": N_("Choose one of the options.")})
    count = (
        await db.execute(select(func.count()).select_from(ApiToken).where(ApiToken.staff_id == actor.id, *_live(now)))
    ).scalar_one()
    if count >= MAX_ACTIVE:
        raise InvalidInput({"label": N_("You have 5 active keys. Revoke one before you make another.")})
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        staff_id=actor.id,
        label=label,
        token_hash=sessions.token_hash(token),
        created_at=now,
        expires_at=now + dt.timedelta(days=days),
    )
    db.add(row)
    await db.flush()
    await audit.record(
        db,
        actor,
        audit.AuditEvent("api_token.create", audit.Purpose.ADMINISTRATION, object_type="api_token", object_id=row.id),
    )
    return token


async def revoke(db: AsyncSession, actor: Actor, token_id: int, now: dt.datetime) -> None:
    access.require_role(actor, *ROLES)
    row = await db.get(ApiToken, token_id)
    if row is None or row.staff_id != actor.id or row.revoked_at is not None:
        raise NotFound()
    row.revoked_at = now
    await audit.record(
        db,
        actor,
        audit.AuditEvent("api_token.revoke", audit.Purpose.ADMINISTRATION, object_type="api_token", object_id=row.id),
    )


async def authenticate(db: AsyncSession, token: str, now: dt.datetime) -> Actor | None:
    """The staff member a bearer token stands for, or None (unknown, expired, revoked, account inactive)."""
    if not token.startswith(PREFIX) or len(token) > 100:
        return None
    row = (
        await db.execute(select(ApiToken).where(ApiToken.token_hash == sessions.token_hash(token), *_live(now)))
    ).scalar_one_or_none()
    if row is None:
        return None
    staff = await db.get(Staff, row.staff_id)
    if staff is None or not staff.active or staff.role not in ROLES:
        return None
    if sessions.touch_due(row.last_used_at, now):
        row.last_used_at = now  # a minute's precision: not a write on every call
    return Actor(
        kind="staff", id=staff.id, municipality_id=staff.municipality_id, role=staff.role.value, name=staff.name
    )
