"""Reports read on an engine of their own, in the report thread (vbostotte/web/reports.py): while a report's
statement is held in progress, a worker's week still answers; once released, the report answers too. Held, not
timed: on SQLite a progress handler on the report engine's connections waits for the test inside the statement, on
PostgreSQL a lock on a table only the report reads keeps its statement waiting in the server."""

from __future__ import annotations

import asyncio
import contextlib
import threading

from sqlalchemy import event, text

from vbostotte.web.keys import REPORTS

STATISTICS = "/supervisor/statistics?period=month&day=2026-11-23"


@contextlib.asynccontextmanager
async def sqlite_report_held(reports):
    """Every statement on the report engine waits inside SQLite until the block ends; yields a function that
    waits until one does, and tells the name of the thread it runs in."""
    entered, release, threads = threading.Event(), threading.Event(), []

    def hold() -> int:  # SQLite's progress handler, called in the thread that runs the statement
        threads.append(threading.current_thread().name)
        entered.set()
        release.wait(30)  # bounded, so a failing test never hangs
        return 0  # go on

    def on_checkout(dbapi_connection, _record, _proxy):
        dbapi_connection.driver_connection._conn.set_progress_handler(hold, 1)

    event.listen(reports.engine.sync_engine, "checkout", on_checkout)

    async def started() -> str:
        assert await asyncio.to_thread(entered.wait, 30)
        return threads[0]

    try:
        yield started
    finally:
        event.remove(reports.engine.sync_engine, "checkout", on_checkout)
        release.set()


@contextlib.asynccontextmanager
async def postgres_report_held(db, reports):
    """call_events locked by the test's own transaction: the statistics' calls query waits in the server; yields a
    function that waits until it does, and tells the name of the thread the report's statements were sent from."""
    threads: list[str] = []

    def on_execute(*_args) -> None:
        threads.append(threading.current_thread().name)

    await db.execute(text("LOCK TABLE call_events IN ACCESS EXCLUSIVE MODE"))
    event.listen(reports.engine.sync_engine, "before_cursor_execute", on_execute)

    async def started() -> str:
        for _ in range(600):  # until the report's statement waits for the lock (bounded)
            waiting = await db.scalar(
                text("SELECT count(*) FROM pg_locks WHERE relation = 'call_events'::regclass AND NOT granted")
            )
            if waiting:
                return threads[-1]
            await asyncio.sleep(0.05)
        raise AssertionError("the report's statement never started")

    try:
        yield started
    finally:
        event.remove(reports.engine.sync_engine, "before_cursor_execute", on_execute)
        await db.rollback()


async def test_a_page_answers_while_a_report_statement_is_in_progress(web, other_web, world, app, settings, db):
    await web.login(world.a.supervisor)
    await other_web.login(world.a.worker)
    reports = app[REPORTS]
    held = sqlite_report_held(reports) if settings.is_sqlite else postgres_report_held(db, reports)
    async with held as started:
        report = asyncio.create_task(web.get(STATISTICS))
        assert await started() == "reports"  # the report's statement runs in (on PostgreSQL: is sent from) its thread
        week = await other_web.get("/worker")  # the event loop is free: a short page answers meanwhile
        assert week.status == 200
        assert "Week" in await week.text() or "Uge" in await week.text()
        assert not report.done()
    response = await report
    assert response.status == 200
    assert reports.engine.pool.checkedout() == 0  # the report's connection is back in its pool
