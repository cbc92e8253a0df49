"""The audit log: who read or changed what, about which citizen, why, and with what outcome.

Entries are append-only (database triggers refuse UPDATE/DELETE; on PostgreSQL the application's role may
only INSERT, migration 0015) and hash-chained: each entry's hash is an HMAC-SHA-256, with a key that is not in
the database (``vbostotte/audit/keys.py``), over its own fields, its key's id and the previous entry's hash, and
``audit_head`` holds the last one, so an edited, deleted, inserted or reordered row is found by
:func:`verify_chain` even when the forger recomputed hashes. A tail cut off with the head moved back is found
against the anchors: the head's (id, hash, time) written outside the database at intervals
(``vbostotte/audit/anchors.py``). Entries made before keys existed (``key_id`` NULL, plain SHA-256) are
accepted only before the first keyed entry.
Never put note text, tokens, passwords or other free text in an entry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import cast

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from vbostotte.actors import Actor
from vbostotte.audit import keys as audit_keys
from vbostotte.audit.keys import Keyring
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
    return dt.datetime.now(dt.UTC)


_FIELDS = (
    "id",
    "at",
    "municipality_id",
    "actor_kind",
    "actor_id",
    "actor_role",
    "action",
    "citizen_id",
    "object_type",
    "object_id",
    "purpose",
    "outcome",
    "prev_hash",
)


def row_hash(row: object, fields: Sequence[str], key: bytes | None = None) -> str:
    """HMAC-SHA-256 with ``key`` (plain SHA-256 without one: rows made before keys) over a row's ``fields`` in a
    canonical form: a compact JSON list of the values in that order, times as UTC with microseconds
    (``2026-11-23T07:00:01.250000Z``). The audit log and the consent events chain their rows with it; a stored
    hash depends on exactly this form, so it must never change."""
    values = []
    for name in fields:
        value = getattr(row, name)
        if isinstance(value, dt.datetime):
            value = value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        values.append(value)
    message = json.dumps(values, separators=(",", ":")).encode()
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def entry_hash(entry: AuditEntry | SimpleNamespace, key: bytes | None = None) -> str:
    """The entry's hash: HMAC-SHA-256 with ``key`` over its fields, its key id and the previous hash; without a
    key, the plain SHA-256 of an entry made before keys (``key_id`` None)."""
    if key is None:
        return row_hash(entry, _FIELDS)
    return row_hash(entry, (*_FIELDS, "key_id"), key)


@dataclass(frozen=True)
class AuditEvent:
    """What happened, before it is placed in the chain."""

    action: str
    purpose: str
    outcome: str = ALLOWED
    citizen_id: int | None = None
    object_type: str | None = None
    object_id: int | None = None


# session.info key: a read-only unit of work collects its entries here instead of appending them; they are appended
# after it, in a group commit (``vbostotte/audit/group_commit.py``), and its answer waits for that commit.
DEFERRED = "vbostotte.audit.deferred"


@dataclass(frozen=True)
class Deferred:
    """An entry to append after a read-only unit of work: who, what, and the clock its time is read from."""

    actor: Actor
    event: AuditEvent
    clock: Callable[[], dt.datetime]


async def record(
    session: AsyncSession, actor: Actor, event: AuditEvent, *, clock: Callable[[], dt.datetime] = utcnow
) -> AuditEntry | None:
    """Append one entry in the caller's transaction (so an action and its trace commit together). In a read-only
    unit of work (its session holds a ``DEFERRED`` list) the entry is collected instead and appended right after the
    reads, before the answer leaves (None is returned then: it has no id or hash yet)."""
    deferred = session.info.get(DEFERRED)
    if deferred is not None:
        deferred.append(Deferred(actor, event, clock))
        return None
    return (await _append(session, [Deferred(actor, event, clock)]))[0]


# The group commit's statements, built once (Core, on the session's connection): no entity per entry, no unit of
# work, no statement or cache key built for each batch. The head row is locked as ``_append`` locks it.
_HEAD_LOCKED = select(AuditHead.last_id, AuditHead.last_hash).where(AuditHead.id == 1).with_for_update()
_INSERT_ENTRIES = insert(cast(Table, AuditEntry.__table__))
_MOVE_HEAD = (
    update(cast(Table, AuditHead.__table__))
    .where(AuditHead.__table__.c.id == 1)
    .values(last_id=bindparam("new_last_id"), last_hash=bindparam("new_last_hash"))
)


async def append_deferred(session: AsyncSession, entries: Sequence[Deferred]) -> None:
    """Append many deferred entries in the caller's transaction, in order, exactly as :func:`record` would one by
    one (the same fields, times and hashes), but with one lock of the head, one insert and one update of the head,
    as plain statements on the session's connection (the session must not hold the head row as an object: the group
    commit's session is a fresh one)."""
    if not entries:
        return
    key_id, key = audit_keys.of_session(session).current("audit")
    connection = await session.connection()
    last_id, last_hash = (await connection.execute(_HEAD_LOCKED)).one()
    rows = []
    for deferred in entries:
        last_id += 1
        row = _fields(deferred, last_id, last_hash, key_id)
        row["hash"] = last_hash = entry_hash(SimpleNamespace(**row), key)
        rows.append(row)
    await connection.execute(_INSERT_ENTRIES, rows)
    await connection.execute(_MOVE_HEAD, {"new_last_id": last_id, "new_last_hash": last_hash})


async def _append(session: AsyncSession, entries: Sequence[Deferred]) -> list[AuditEntry]:
    """Place the entries at the end of the chain, in order: one lock of the head, its one update, one flush."""
    key_id, key = audit_keys.of_session(session).current("audit")
    head = (await session.execute(select(AuditHead).where(AuditHead.id == 1).with_for_update())).scalar_one()
    appended = []
    for deferred in entries:
        entry = AuditEntry(**_fields(deferred, head.last_id + 1, head.last_hash, key_id))
        entry.hash = entry_hash(entry, key)
        session.add(entry)
        head.last_id, head.last_hash = entry.id, entry.hash
        appended.append(entry)
    await session.flush()
    return appended


def _fields(deferred: Deferred, entry_id: int, prev_hash: str, key_id: str | None) -> dict[str, object]:
    """An entry's fields but its hash: what happened, by whom, when, and its place in the chain."""
    actor, event = deferred.actor, deferred.event
    return {
        "id": entry_id,
        "at": deferred.clock(),
        "municipality_id": actor.municipality_id,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_role": actor.role,
        "action": event.action,
        "citizen_id": event.citizen_id,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "purpose": event.purpose,
        "outcome": event.outcome,
        "prev_hash": prev_hash,
        "key_id": key_id,
    }


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_broken_id: int | None = None
    reason: str = ""
    anchors: int = 0  # anchors the chain was checked against (all matched when ok)
    segments: tuple[tuple[str | None, int, int], ...] = ()  # (key id or None for unkeyed, first id, last id)
    last_hash: str = GENESIS  # the last verified entry's hash (an intact report can be carried on from)
    pending: bool = False  # the server is still walking the chain: ``checked`` entries verified so far, none broken

    def __str__(self) -> str:
        if self.ok:
            return f"audit chain OK: {self.checked} entries verified" + (
                f", {self.anchors} anchors match" if self.anchors else ""
            )
        return f"audit chain BROKEN at entry {self.first_broken_id}: {self.reason} ({self.checked} verified before it)"

    def describe_keys(self) -> str:
        """Which key made which entries, e.g. ``unkeyed 1-40; key 20261123-ab12 41-980``."""
        return (
            "; ".join(
                f"{'unkeyed' if key_id is None else 'key ' + key_id} {first}-{last}"
                for key_id, first, last in self.segments
            )
            or "no entries"
        )


def check_key(keyring: Keyring, key_id: str | None, keyed_before: bool, chain: str) -> tuple[bytes | None, str]:
    """The key a chain row must verify with, or a reason it cannot be accepted: an unkeyed row after a keyed one
    (made by someone without the key), or a key that was not given."""
    if key_id is None:
        return None, ("unkeyed (plain SHA-256) after keyed ones: made without the key" if keyed_before else "")
    key = keyring.key(key_id, chain)
    if key is None:
        return None, (
            f"made with key {key_id!r}, which was not given (VB_AUDIT_KEY, VB_AUDIT_RETIRED_KEYS or the "
            "data folder's audit_keys)"
        )
    return key, ""


def anchored(anchors: Iterable, chain: str, municipality_id: int | None = None) -> dict[int, list]:
    """The anchors of one chain by the id (audit) or number (consent) of the row they hold the hash of."""
    found: dict[int, list] = {}
    for anchor in anchors:
        if anchor.chain == chain and anchor.municipality_id == municipality_id:
            found.setdefault(anchor.last, []).append(anchor)
    return found


def replaced(anchors_at: list, row_hash_: str) -> str:
    """The reason a row differs from an anchor of it ("" when every anchor of it agrees)."""
    for anchor in anchors_at:
        if not hmac.compare_digest(anchor.hash, row_hash_):
            return f"replaced: its hash differs from the one anchored at {anchor.at}"
    return ""


def truncated(anchors_by_last: dict[int, list], length: int, noun: str) -> tuple[int, str] | None:
    """(the last anchored row missing, the reason) when the chain is shorter than an anchor says it was."""
    beyond = [last for last in anchors_by_last if last > length]
    if not beyond:
        return None
    last = max(beyond)
    anchor = anchors_by_last[last][-1]
    return last, (
        f"truncated: {noun} {last} was anchored at {anchor.at} but the chain ends at {length} "
        "(entries removed at the end, the head moved back)"
    )


async def verify_chain(
    session: AsyncSession,
    batch: int = 5000,
    *,
    keyring: Keyring | None = None,
    anchors: Iterable = (),
    since: ChainReport | None = None,
    upto: int | None = None,
) -> ChainReport:
    """Walk the whole chain in id order and report the first entry that does not fit: against the keys
    (``keyring``, by default the session's) and the ``anchors`` (``audit_anchors.read``) given. ``since``: an
    intact report of this chain made earlier; only the entries after it are walked (and the head checked). ``upto``:
    stop after that entry and report the part walked (a slice: neither the head nor the anchors after it checked)."""
    keyring = keyring or audit_keys.of_session(session)
    by_id = anchored(anchors, "audit")
    prev_hash, expected_id, checked, matched, keyed_before = GENESIS, 1, 0, 0, False
    segments: list[list] = []
    if since is not None and since.ok:
        prev_hash, expected_id, checked, matched = since.last_hash, since.checked + 1, since.checked, since.anchors
        segments = [list(segment) for segment in since.segments]
        keyed_before = any(key_id is not None for key_id, _, _ in since.segments)
    last_seen = checked
    while True:
        rows = (
            (
                await session.execute(
                    select(AuditEntry)
                    .where(AuditEntry.id > last_seen, *([] if upto is None else [AuditEntry.id <= upto]))
                    .order_by(AuditEntry.id)
                    .limit(batch)
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            break
        for entry in rows:
            if entry.id != expected_id:
                return ChainReport(False, checked, expected_id, f"entry {expected_id} is missing")
            if entry.prev_hash != prev_hash:
                return ChainReport(False, checked, entry.id, "does not link to the entry before it")
            key, refused = check_key(keyring, entry.key_id, keyed_before, "audit")
            if refused:
                return ChainReport(False, checked, entry.id, refused)
            if not hmac.compare_digest(entry_hash(entry, key), entry.hash):
                return ChainReport(False, checked, entry.id, "its content was changed")
            if entry.id in by_id:
                differs = replaced(by_id[entry.id], entry.hash)
                if differs:
                    return ChainReport(False, checked, entry.id, differs)
                matched += len(by_id[entry.id])
            keyed_before = keyed_before or entry.key_id is not None
            if segments and segments[-1][0] == entry.key_id:
                segments[-1][2] = entry.id
            else:
                segments.append([entry.key_id, entry.id, entry.id])
            prev_hash, expected_id, checked = entry.hash, expected_id + 1, checked + 1
        last_seen = rows[-1].id
        session.expunge_all()
    if upto is not None and checked == upto:
        segments_ = tuple(tuple(s) for s in segments)
        return ChainReport(True, checked, anchors=matched, segments=segments_, last_hash=prev_hash)
    head = (await session.execute(select(AuditHead).where(AuditHead.id == 1))).scalar_one()
    if head.last_id != checked or head.last_hash != prev_hash:
        return ChainReport(
            False,
            checked,
            checked + 1 if head.last_id > checked else checked,
            "the chain ends before the recorded head (entries removed at the end)",
        )
    cut = truncated(by_id, checked, "entry")
    if cut is not None:
        return ChainReport(False, checked, checked + 1, cut[1])
    return ChainReport(True, checked, anchors=matched, segments=tuple(tuple(s) for s in segments), last_hash=prev_hash)


class Verified:
    """The last intact report of the chain this process made, to carry on from: a page verifies only what was
    appended since (``verify_chain(since=...)``). The server walks the whole chain in the background (:meth:`walk`)
    at start and every ``FULL_EVERY`` seconds, slice by slice, so an entry changed after it was verified is found
    too. Until the first walk is done, a page walks the rest itself when it is short (``PAGE_WALK`` entries), and
    otherwise shows how far the walk has come (``pending``)."""

    FULL_EVERY = 600.0
    SLICE = 2000  # entries a background slice walks before it lets other work in
    PAGE_WALK = 20_000

    def __init__(self) -> None:
        self.report: ChainReport | None = None
        self.progress: ChainReport | None = None  # the walk under way: the part verified so far

    async def check(self, session: AsyncSession) -> ChainReport:
        """The chain's state now: the entries appended since the last intact report verified (all when none)."""
        since = self.report
        if since is None and self.progress is not None:
            head = (await session.execute(select(AuditHead).where(AuditHead.id == 1))).scalar_one()
            if head.last_id - self.progress.checked > self.PAGE_WALK:
                return replace(self.progress, pending=True)
            since = self.progress
        report = await verify_chain(session, since=since)
        self.report = report if report.ok else None
        return report

    async def walk(self, sessions: Callable[[], AsyncSession]) -> ChainReport:
        """Walk the whole chain again, a slice at a time, each in a session of its own from ``sessions``."""
        progress = self.progress = ChainReport(True, 0)
        try:
            while True:
                async with sessions() as session:
                    head = (await session.execute(select(AuditHead).where(AuditHead.id == 1))).scalar_one()
                    if head.last_id - progress.checked <= self.SLICE:
                        report = await verify_chain(session, batch=500, since=progress)
                        self.report = report if report.ok else None
                        return report
                    progress = await verify_chain(
                        session, batch=500, since=progress, upto=progress.checked + self.SLICE
                    )
                if not progress.ok:
                    self.report = None
                    return progress
                self.progress = progress
                await asyncio.sleep(0)
        finally:
            self.progress = None
