"""Server-side sessions. The cookie holds a random token; the database holds only its SHA-256,
so logging out or revoking a link really ends the session, on every process."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import secrets
from typing import Any, cast

from sqlalchemy import CursorResult, Select, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte.config import Settings
from vbostotte.models import Citizen, Staff, WebSession

COOKIE = "vb_session"
# Writing last_seen on every request would make every page a write; a minute's precision is enough.
TOUCH_EVERY = dt.timedelta(minutes=1)


def new_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def start_staff_session(
    db: AsyncSession, staff_id: int, settings: Settings, now: dt.datetime, *, mfa_passed: bool
) -> str:
    """Create a staff session; it ends after the idle timeout or the absolute timeout."""
    token = new_token()
    db.add(
        WebSession(
            id_hash=token_hash(token),
            staff_id=staff_id,
            mfa_passed=mfa_passed,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(hours=settings.session_absolute_hours),
        )
    )
    await db.flush()
    return token


async def start_citizen_session(
    db: AsyncSession, citizen_id: int, link_id: int, settings: Settings, now: dt.datetime
) -> str:
    """Create a long-lived citizen session on one device, tied to the link that opened it."""
    token = new_token()
    db.add(
        WebSession(
            id_hash=token_hash(token),
            citizen_id=citizen_id,
            link_id=link_id,
            mfa_passed=True,
            created_at=now,
            last_seen_at=now,
            expires_at=now + dt.timedelta(days=settings.citizen_session_days),
        )
    )
    await db.flush()
    return token


@functools.cache
def _session_and_person() -> Select[WebSession, Staff, Citizen]:
    """Built once: the session with its staff member or citizen, in one read."""
    return (
        select(WebSession, Staff, Citizen)
        .outerjoin(Staff, Staff.id == WebSession.staff_id)
        .outerjoin(Citizen, Citizen.id == WebSession.citizen_id)
        .where(WebSession.id_hash == bindparam("id_hash"))
    )


async def load_with_person(
    db: AsyncSession, token: str | None, settings: Settings, now: dt.datetime, *, activity: bool = True
) -> tuple[WebSession | None, Staff | Citizen | None]:
    """The live session for a cookie token and its staff member or citizen, read together (None, None: unknown,
    expired or idle too long, and then deleted; the person None: gone). ``activity=False``: a request the page makes
    by itself (a poll), which does not keep an idle session alive."""
    if not token or len(token) > 100:
        return None, None
    row = (await db.execute(_session_and_person(), {"id_hash": token_hash(token)})).first()
    if row is None:
        return None, None
    session, staff, citizen = row
    if not is_live(session, settings, now):
        await db.delete(session)
        return None, None
    if activity:
        touch(session, now)
    return session, staff if session.staff_id is not None else citizen


def is_live(session: WebSession, settings: Settings, now: dt.datetime) -> bool:
    """Neither past its absolute end nor, for staff, idle too long."""
    return session.expires_at > now and (session.staff_id is None or session.last_seen_at >= idle_cutoff(settings, now))


def idle_cutoff(settings: Settings, now: dt.datetime) -> dt.datetime:
    """A staff session last seen before this is idle too long at ``now`` (also the SQL form of :func:`is_live` in
    vbostotte/calls/call_access.py)."""
    return now - dt.timedelta(minutes=settings.session_idle_minutes)


def touch_due(last_seen: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether activity at ``now`` is to be written down: at most once every ``TOUCH_EVERY``."""
    return last_seen is None or now - last_seen >= TOUCH_EVERY


def touch(session: WebSession, now: dt.datetime) -> None:
    """Note activity (at most once a minute)."""
    if touch_due(session.last_seen_at, now):
        session.last_seen_at = now


async def end(db: AsyncSession, token: str | None) -> None:
    """End one session (logout)."""
    if token:
        await db.execute(delete(WebSession).where(WebSession.id_hash == token_hash(token)))


async def end_for_link(db: AsyncSession, link_id: int) -> None:
    """End every device session opened with a personal link (the link was revoked)."""
    await db.execute(delete(WebSession).where(WebSession.link_id == link_id))


async def end_for_staff(db: AsyncSession, staff_id: int) -> None:
    await db.execute(delete(WebSession).where(WebSession.staff_id == staff_id))


async def purge_expired(db: AsyncSession, now: dt.datetime) -> int:
    # a DELETE's result is a CursorResult, which has the rowcount
    result = cast(CursorResult[Any], await db.execute(delete(WebSession).where(WebSession.expires_at <= now)))
    return result.rowcount or 0
