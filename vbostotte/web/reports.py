"""Reports run apart from the pages: the year's statistics, the access log and their exports.

A report reads and computes for much longer than a page (hundreds of milliseconds for a year's statistics: the
database's work, SQLAlchemy's rows, the Python that turns them into figures, the rendering). On the server's one
event loop that would hold up every other request for the whole time. So a handler marked :func:`report` runs its
read-only unit of work (the session check, its reads, computing and rendering; ``web/middlewares.py``) on the
report thread (:class:`Reports`): an event loop in a thread of its own, at a low OS priority (Linux: a nice value
for that thread alone), reading on an engine of its own (``db.create_report_engine``) that is used only there. The
short pages keep the event loop, and whenever they need the CPU the operating system gives it to them first; the
report's answer goes back to the event loop, which appends its audit entries (group commit) and sends it. A report
that turns out to write runs again as a writer on the event loop, as any page. So on SQLite and PostgreSQL alike;
on PostgreSQL the report engine's asyncpg connections are made, used and closed in the report thread's loop (an
asyncpg connection belongs to the loop it was made in), and its statements may take longer than a page's
(``db.REPORT_QUERY_TIMEOUT``), in REPEATABLE READ.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

# How much nicer the report thread is than the process (Linux: 15 when the server runs at 0): it gets the CPU the
# pages leave. Never less nice than the process (a server started with nice 19 must not get a report thread at 15,
# above its own event loop), at most 19.
NICENESS = 15
# How long the event loop's thread may wait for the GIL while the report thread computes in Python before the
# interpreter makes the report thread hand it over (Python's default: 5 ms, the whole budget of a short page's wait).
SWITCH_INTERVAL = 0.001
_REPORT = "vbostotte_report"  # the attribute :func:`report` sets on a handler

T = TypeVar("T")
Handler = TypeVar("Handler", bound=Callable[[web.Request], Awaitable[web.StreamResponse]])


def report(handler: Handler) -> Handler:
    """Mark a GET handler as a report: its read-only unit of work runs where reports run (:class:`Reports`)."""
    setattr(handler, _REPORT, True)
    return handler


def is_report(request: web.Request) -> bool:
    """Is the request's handler marked with :func:`report`?"""
    return getattr(request.match_info.handler, _REPORT, False) is True


def lower_own_priority() -> None:
    """Lower the calling thread's OS priority by ``NICENESS`` (on Linux a thread has a nice value of its own; the
    result at most 19, never above the process's priority); elsewhere nothing."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            thread = threading.get_native_id()
            niceness = os.getpriority(os.PRIO_PROCESS, thread)
            os.setpriority(os.PRIO_PROCESS, thread, min(19, niceness + NICENESS))


class Reports:
    """Where reports run: read-only sessions on an engine of their own (``engine`` is used only there: on
    PostgreSQL its connections belong to this loop), on an event loop in a thread of its own at low OS priority."""

    def __init__(self, engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]) -> None:
        self.engine, self.sessions = engine, sessions
        sys.setswitchinterval(min(sys.getswitchinterval(), SWITCH_INTERVAL))
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._serve, args=(self.loop,), name="reports", daemon=True)
        self._thread.start()

    @staticmethod
    def _serve(loop: asyncio.AbstractEventLoop) -> None:
        lower_own_priority()
        asyncio.set_event_loop(loop)
        loop.run_forever()

    async def run(self, work: Coroutine[Any, Any, T]) -> T:
        """Run ``work`` where reports run (on the report thread: in a copy of the caller's context, language and
        request id; its result or exception comes back here; cancelling the caller cancels ``work``)."""
        context = contextvars.copy_context()

        async def in_context() -> T:
            return await asyncio.get_running_loop().create_task(work, context=context)

        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(in_context(), self.loop))

    async def close(self) -> None:
        """End what still runs on the thread (a report or chain walk whose caller has gone: its cancellation may not
        have reached it yet), close the engine's connections (where they were used), then stop the thread."""
        try:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_end_other_tasks(), self.loop))
            await self.run(self.engine.dispose())
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            await asyncio.to_thread(self._thread.join)
            self.loop.close()


async def _end_other_tasks() -> None:
    """Cancel every other task of this loop and wait for them to end (as ``asyncio.run`` does before it closes)."""
    others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in others:
        task.cancel()
    await asyncio.gather(*others, return_exceptions=True)
