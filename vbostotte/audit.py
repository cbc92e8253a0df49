"""The audit log: who read or changed what, about which citizen, why, and with what outcome.

Entries are append-only (database triggers refuse UPDATE/DELETE) and hash-chained: each entry's
hash covers its own fields and the previous entry's hash, and ``audit_head`` holds the last one,
so an edited, deleted, inserted or reordered row is found by :func:`verify_chain`.
Never put note text, tokens, passwords or other free text in an entry.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte.actors import Actor
from vbostotte.models import AuditEntry, AuditHead

GENESIS = "0" * 64
ALLOWED, DENIED = "allowed", "denied"


class Purpose:
    """Why data was read or changed: a closed vocabulary, so entries can be reviewed and counted."""

    SUPPORT = "support"  # a worker doing the support work itself
    CASELOAD_OVERVIEW = "caseload_overview"
    SUPERVISION = "supervision"
    SELF_SERVICE = "self_service"  # citizens reading or changing their own data
    ADMINISTRATION = "administration"
    AUTHENTICATION = "authentication"
    WELLBEING_FOLLOW_UP = "wellbeing_follow_up"  # a worker reading a citizen's check-ins and day plan (with consent)
    DATA_ACCESS = "data_access"  # the citizen's copy of everything held about them (their right of access)
    CASEWORKER_SHARING = "caseworker_sharing"  # a summary for the citizen's caseworker (with the citizen's consent)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


_FIELDS = (
    "id", "at", "municipality_id", "actor_kind", "actor_id", "actor_role", "action",
    "citizen_id", "object_type", "object_id", "purpose", "outcome", "prev_hash",
)


def row_hash(row: object, fields: Sequence[str]) -> str:
    """SHA-256 over a row's ``fields`` in a canonical form: a compact JSON list of the values in that order,
    times as UTC with microseconds (``2026-11-23T07:00:01.250000Z``). The audit log and the consent events
    chain their rows with it; a stored hash depends on exactly this form, so it must never change."""
    values = []
    for name in fields:
        value = getattr(row, name)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        values.append(value)
    return hashlib.sha256(json.dumps(values, separators=(",", ":")).encode()).hexdigest()


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 over the entry's fields (including the previous hash) in a canonical form."""
    return row_hash(entry, _FIELDS)


@dataclass(frozen=True)
class AuditEvent:
    """What happened, before it is placed in the chain."""

    action: str
    purpose: str
    outcome: str = ALLOWED
    citizen_id: int | None = None
    object_type: str | None = None
    object_id: int | None = None


async def record(
    session: AsyncSession, actor: Actor, event: AuditEvent, *, clock: Callable[[], dt.datetime] = utcnow
) -> AuditEntry:
    """Append one entry in the caller's transaction (so an action and its trace commit together)."""
    head = (await session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update())).scalar_one()
    entry = AuditEntry(
        id=head.last_id + 1,
        at=clock(),
        municipality_id=actor.municipality_id,
        actor_kind=actor.kind,
        actor_id=actor.id,
        actor_role=actor.role,
        action=event.action,
        citizen_id=event.citizen_id,
        object_type=event.object_type,
        object_id=event.object_id,
        purpose=event.purpose,
        outcome=event.outcome,
        prev_hash=head.last_hash,
    )
    entry.hash = entry_hash(entry)
    session.add(entry)
    head.last_id, head.last_hash = entry.id, entry.hash
    await session.flush()
    return entry


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.checked} entries verified"
        return f"audit chain BROKEN at entry {self.first_broken_id}: {self.reason} ({self.checked} verified before it)"


async def verify_chain(session: AsyncSession, batch: int = 5000) -> ChainReport:
    """Walk the whole chain in id order and report the first entry that does not fit."""
    prev_hash, expected_id, checked = GENESIS, 1, 0
    last_seen = 0
    while True:
        rows = (
            await session.execute(
                select(AuditEntry).where(AuditEntry.id > last_seen).order_by(AuditEntry.id).limit(batch)
            )
        ).scalars().all()
        if not rows:
            break
        for entry in rows:
            if entry.id != expected_id:
                return ChainReport(False, checked, expected_id, f"entry {expected_id} is missing")
            if entry.prev_hash != prev_hash:
                return ChainReport(False, checked, entry.id, "does not link to the entry before it")
            if entry_hash(entry) != entry.hash:
                return ChainReport(False, checked, entry.id, "its content was changed")
            prev_hash, expected_id, checked = entry.hash, expected_id + 1, checked + 1
        last_seen = rows[-1].id
        session.expunge_all()
    head = (await session.execute(select(AuditHead).where(AuditHead.id == 1))).scalar_one()
    if head.last_id != checked or head.last_hash != prev_hash:
        return ChainReport(False, checked, checked + 1 if head.last_id > checked else checked,
                           "the chain ends before the recorded head (entries removed at the end)")
    return ChainReport(True, checked)
