"""Anchors: the audit log's and the consent chains' heads, written outside the database.

The chains are keyed (``audit_keys``), so nobody without the key can forge an entry; but someone who can write
the database can still cut entries off the end and move the head back to the last one kept, and the chain
would end cleanly. So the server writes each chain's head — ``(last id or number, hash, time)`` — at
``VB_AUDIT_ANCHOR_MINUTES`` intervals, at start and at shutdown, where the database cannot reach:

* appended to ``audit_anchors.jsonl`` in the data folder (one JSON object a line, opened for appending,
  flushed and fsync'd; never rewritten), and
* as a log record (logger ``vbostotte.audit.anchor``; with ``VB_LOG_FORMAT=json`` the object is in its
  ``anchor`` field), so the log collector carries a copy off the machine.

``vbostotte verify-audit`` reads the anchor file (and any other ``--anchors`` file: another replica's, or the
log collector's export, whose lines carry the object in ``anchor``) and reports an anchored entry that is
missing (truncation) or has another hash (replacement). What was appended after the last anchor can still be
cut unseen: the interval bounds that. The server runs :class:`Anchoring` (``vbostotte/app.py``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vbostotte import db
from vbostotte.models import AuditHead, ConsentHead

ANCHOR_FILE = "audit_anchors.jsonl"
STOP_SECONDS = 5.0  # the shutdown anchor waits this long for the database at most
log = logging.getLogger("vbostotte.audit.anchor")


@dataclass(frozen=True)
class Anchor:
    """One chain's head at one time: ``last`` is the audit entry id or the consent event number."""

    chain: str  # "audit" or "consent"
    municipality_id: int | None  # the consent chain's municipality; None for the audit log
    last: int
    hash: str
    at: str  # UTC, ISO 8601

    def to_json(self) -> dict:
        if self.chain == "audit":
            return {"chain": "audit", "last_id": self.last, "hash": self.hash, "at": self.at}
        return {
            "chain": "consent",
            "municipality_id": self.municipality_id,
            "last_seq": self.last,
            "hash": self.hash,
            "at": self.at,
        }

    @classmethod
    def from_json(cls, data: dict) -> Anchor:
        if data["chain"] == "audit":
            return cls("audit", None, int(data["last_id"]), str(data["hash"]), str(data["at"]))
        if data["chain"] == "consent":
            return cls(
                "consent", int(data["municipality_id"]), int(data["last_seq"]), str(data["hash"]), str(data["at"])
            )
        raise ValueError("unknown chain")

    @property
    def position(self) -> tuple[str, int | None, int, str]:
        return self.chain, self.municipality_id, self.last, self.hash


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def heads(session: AsyncSession) -> list[Anchor]:
    """Every chain's head now (empty chains left out: there is nothing to anchor)."""
    at = _now()
    found = []
    audit_head = await session.get(AuditHead, 1)
    if audit_head is not None and audit_head.last_id > 0:
        found.append(Anchor("audit", None, audit_head.last_id, audit_head.last_hash, at))
    for head in (await session.execute(select(ConsentHead).order_by(ConsentHead.municipality_id))).scalars():
        if head.last_seq > 0:
            found.append(Anchor("consent", head.municipality_id, head.last_seq, head.last_hash, at))
    return found


def append(path: Path, anchors: Iterable[Anchor]) -> None:
    """Append the anchors to the anchor log in one write, flushed to disk (the file is only ever appended to)."""
    data = "".join(json.dumps(a.to_json(), separators=(",", ":")) + "\n" for a in anchors).encode()
    if not data:
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # as the data folder
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


class Anchoring:
    """Writes the chains' heads that moved since this process last wrote them: to the log, then to the file."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], path: Path, lock: asyncio.Lock | None = None):
        self.sessions, self.path, self.lock = sessions, path, lock
        self.written: set[tuple] = set()

    async def anchor(self, force: bool = False) -> list[Anchor]:
        """Write the heads that moved since the last write (all of them with ``force``)."""
        async with db.transaction(self.sessions, self.lock) as session:
            current = await heads(session)
        new = [a for a in current if force or a.position not in self.written]
        for anchor in new:
            log.info(
                "audit chain anchor %s",
                json.dumps(anchor.to_json(), separators=(",", ":")),
                extra={"anchor": anchor.to_json()},
            )
        append(self.path, new)
        self.written = {a.position for a in current}
        return new

    async def anchor_quietly(self, timeout: float | None = None, force: bool = False) -> None:
        """:meth:`anchor`, logging (never raising) a failure: the server keeps serving without its anchor."""
        try:
            await asyncio.wait_for(self.anchor(force), timeout)
        except Exception as exc:  # noqa: BLE001 - a database or disk problem is logged, the server goes on
            log.error("audit chain anchor not written: %s", type(exc).__name__)

    async def run(self, interval_seconds: float, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), interval_seconds)
            except TimeoutError:
                await self.anchor_quietly()


@dataclass(frozen=True)
class Read:
    anchors: list[Anchor]
    files: list[Path]
    unreadable: int  # lines that are not JSON (a crash mid-line, or damage)


def read(paths: Iterable[Path]) -> Read:
    """Anchors from anchor logs and from JSON log exports (a line whose object has ``anchor``); other JSON
    lines are skipped, lines that are not JSON counted."""
    anchors, files, unreadable = [], [], 0
    for path in paths:
        files.append(path)
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    data = json.loads(line)
                except ValueError:
                    unreadable += 1
                    continue
                if isinstance(data, dict) and isinstance(data.get("anchor"), dict):
                    data = data["anchor"]
                if not isinstance(data, dict) or "chain" not in data:
                    continue
                try:
                    anchors.append(Anchor.from_json(data))
                except (KeyError, TypeError, ValueError):
                    unreadable += 1
    return Read(anchors, files, unreadable)
