"""Group commit of audit entries: the entries of many read-only requests appended to the chain in one transaction.

A page that only reads (its unit of work is read-only, ``web/middlewares.py``) collects its audit entries
(``audit.DEFERRED``) and hands them here when its reads are done; its answer waits until they are committed, so
nothing is shown before its trace is durable. Entries that arrive while one transaction is committing are appended
together in the next: one write lock and one fsync for all of them instead of one each. The chain is appended
exactly as ``audit.record`` does (the head row locked, the HMAC over the previous hash), in arrival order, with
one insert for the batch (``audit.append_deferred``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from vbostotte import audit, db

MAX_BATCH = 500  # entries in one transaction at most (a burst is split so no transaction grows without bound)


class GroupCommit:
    """Appends batches of deferred entries; one instance per process and database (the app's)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], lock: asyncio.Lock | None = None) -> None:
        self.sessions, self.lock = sessions, lock
        self._waiting: list[tuple[Sequence[audit.Deferred], asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def append(self, entries: Sequence[audit.Deferred]) -> None:
        """Append ``entries`` (in order, one after the other in the chain) and return once they are committed;
        raises what the commit raised (the request then fails, and shows nothing)."""
        if not entries:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((entries, done))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="audit-group-commit")
        await done

    async def _run(self) -> None:
        while self._waiting:
            batch: list[tuple[Sequence[audit.Deferred], asyncio.Future[None]]] = []
            size = 0
            while self._waiting and (not batch or size + len(self._waiting[0][0]) <= MAX_BATCH):
                batch.append(self._waiting.pop(0))
                size += len(batch[-1][0])
            try:
                async with db.transaction(self.sessions, self.lock) as session:
                    await audit.append_deferred(session, [entry for entries, _ in batch for entry in entries])
            except BaseException as exc:  # noqa: BLE001 - every waiter learns the failure
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                if isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt, SystemExit)):
                    for _, done in self._waiting:
                        if not done.done():
                            done.set_exception(exc)
                    self._waiting.clear()
                    raise
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
