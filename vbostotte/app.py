"""The application factory: ``create_app(settings)`` builds everything; nothing is built at import."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from signaling import Event, InProcessBroker, Limits, Participant, RedisBroker, SignalingServer
from signaling.echo import EchoPeers
from vbostotte import audit, db, i18n
from vbostotte.audit import anchors as audit_anchors
from vbostotte.audit import group_commit
from vbostotte.audit import keys as audit_keys
from vbostotte.calls import call_access, calls
from vbostotte.config import Settings
from vbostotte.identity import login, oidc
from vbostotte.operations import metrics
from vbostotte.reminders import channels, sender
from vbostotte.web import middlewares, reports, security
from vbostotte.web.keys import (
    ALLOWED_ORIGINS,
    AUDIT_GROUP_COMMIT,
    AUDIT_VERIFIED,
    CLOCK,
    ECHO_PEERS,
    ENGINE,
    METRICS,
    OIDC_CACHE,
    READ_SESSIONMAKER,
    REPORTS,
    SESSIONMAKER,
    SETTINGS,
    SIGNALING,
    SQLITE_LOCK,
)
from vbostotte.web.middlewares import MIDDLEWARES
from vbostotte.web.routes import setup_routes

log = logging.getLogger(__name__)

WEB = Path(__file__).resolve().parent.parent / "web"
START_RETRY_SECONDS = 2.0  # how often a dependency that was down at start is tried again
EVENT_DELAY = 0.5  # seconds call events are collected before they are written as one batch
SIGNALING_STATE_FILE = "signaling-state.json"  # one process without Redis: the rooms' places, kept over a restart
MAX_BODY = 256 * 1024  # forms are small; anything bigger is refused with 413 before it is read


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _jinja_env(app: web.Application) -> None:
    env = aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(WEB / "templates"),
        autoescape=jinja2.select_autoescape(default=True),
        extensions=["jinja2.ext.i18n"],
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.gettext(message),
        lambda singular, plural, n: i18n.ngettext(singular, plural, n),
        newstyle=True,
    )
    env.filters.update(
        when=i18n.format_when,
        clock=i18n.format_clock,
        day=i18n.format_day,
        timestamp=i18n.format_timestamp,
        upfirst=i18n.upfirst,
        role_label=i18n.role_label,
        attendance_label=i18n.attendance_label,
        weekday_name=i18n.weekday_name,
        before_label=i18n.before_label,
        minutes_clock=i18n.minutes_clock,
        absence_label=i18n.absence_label,
        day_span=i18n.format_day_span,
        number=i18n.format_number,
        percent=i18n.format_percent,
        milliseconds=i18n.milliseconds_text,
        seconds=i18n.seconds_text,
        minutes=i18n.minutes_text,
        hours=i18n.hours_text,
    )
    env.globals.update(
        locales=i18n.LOCALE_NAMES,
        locale_options=[(code, name, code) for code, name in i18n.LOCALE_NAMES.items()],
        unit_pattern=i18n.unit_pattern,
    )


def create_app(settings: Settings, *, clock: Callable[[], dt.datetime] = utcnow) -> web.Application:
    """Build the web application for ``settings`` (the database must already be migrated)."""
    settings = settings.with_secret()
    # What importing builds nothing of, built here once per process (both cached): the compiled message catalogues,
    # and the argon2 hash an unknown e-mail is checked against (so the first failed login is not faster).
    i18n.catalogues()
    login.dummy_hash()
    app = web.Application(middlewares=MIDDLEWARES, client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[CLOCK] = clock
    # Once, from the settings (a mistyped VB_EXTRA_ORIGINS stops the start): form posts and call sockets.
    app[ALLOWED_ORIGINS] = security.allowed_origins(settings)
    _jinja_env(app)
    setup_routes(app, WEB / "static")
    app.on_response_prepare.append(security.add_headers)
    app.on_response_prepare.append(middlewares.add_request_id)
    metrics.allowed_networks(settings.metrics_allow)  # a mistyped allow-list stops the start, not a scrape
    app[METRICS] = metrics.Metrics()
    app[OIDC_CACHE] = oidc.ProviderCache()  # the staff sign-in providers' discovery documents and keys
    app.cleanup_ctx.append(_database)
    app.cleanup_ctx.append(_signaling)
    app.on_shutdown.append(_tell_call_clients_to_reconnect)
    app.cleanup_ctx.append(_echo_peers)
    app.cleanup_ctx.append(_outbox_sender)
    app.cleanup_ctx.append(_audit_anchors)  # the chains' heads outside the database (start, interval, stop)
    app.cleanup_ctx.append(_start_up_objects_frozen)  # last: after everything else has started
    return app


async def _start_up_objects_frozen(_app: web.Application) -> AsyncIterator[None]:
    """Leave what start-up made (modules, mappers, templates, caches) out of the garbage collector's full passes
    while the app runs: such a pass holds every thread up while it runs, and over those objects it took tens of
    milliseconds, a short page's whole budget, whenever a report's rows set one off (issue 18)."""
    gc.collect()
    gc.freeze()
    yield
    gc.unfreeze()


async def _database(app: web.Application) -> AsyncIterator[None]:
    late_check: asyncio.Task | None = None
    timeout = app[SETTINGS].dependency_timeout_seconds
    # Every statement bounded too (PostgreSQL): a partition gives a 503 within seconds, not when it heals.
    engine = db.create_engine(app[SETTINGS].resolved_database_url, connect_timeout=timeout, query_timeout=timeout)
    try:
        await db.check_migrated(engine)
    except db.NotMigrated:
        await engine.dispose()
        raise
    except Exception as exc:  # noqa: BLE001 - refused, partitioned, timed out: start anyway (docs/deployment.md)
        # Not reachable now: serve 503 (and the pages that need no database) until it answers; a task checks the
        # schema once it does (a database that turns out not migrated is logged as an error each time).
        log.warning("database unreachable at start (%s): answering 503 until it is back", type(exc).__name__)
        late_check = asyncio.create_task(_check_migrated_later(engine), name="database-start-check")
    app[ENGINE] = engine
    keyring = audit_keys.load(app[SETTINGS])  # the audit chains' HMAC keys
    app[SESSIONMAKER] = db.sessionmaker(engine, keyring)
    if engine.dialect.name == "sqlite":
        app[SQLITE_LOCK] = asyncio.Lock()
    # GET requests read on their own connections, never waiting for the writer; their audit entries are appended
    # in group commits (web/middlewares.py, audit/group_commit.py).
    reader = db.create_reader_engine(app[SETTINGS].resolved_database_url)  # SQLite: reads in the loop's thread
    # Reports (web/reports.py) read on an engine of their own, in a low-priority thread of their own.
    report_engine = db.create_report_engine(app[SETTINGS].resolved_database_url, timeout)
    for each in (engine, reader, report_engine):
        if each is not None:
            db.guard_read_only(each)
    app[READ_SESSIONMAKER] = db.sessionmaker(reader or engine.execution_options(read_only=True), keyring)
    report_runner = None
    if report_engine is not None:
        app[REPORTS] = report_runner = reports.Reports(report_engine, db.sessionmaker(report_engine, keyring))
    app[AUDIT_GROUP_COMMIT] = group_commit.GroupCommit(app[SESSIONMAKER], app.get(SQLITE_LOCK))
    app[AUDIT_VERIFIED] = verified = audit.Verified()
    stop = asyncio.Event()

    def walk() -> Awaitable[audit.ChainReport]:  # where reports run, as the access log's own checks
        if report_runner is None:
            return verified.walk(app[READ_SESSIONMAKER])
        return report_runner.run(verified.walk(report_runner.sessions))

    walker = asyncio.create_task(_walk_audit_chain(walk, stop), name="audit-chain-walk")
    yield
    stop.set()
    walker.cancel()  # a walk under way is simply dropped
    with contextlib.suppress(asyncio.CancelledError):
        await walker
    if late_check is not None:
        late_check.cancel()
        await asyncio.gather(late_check, return_exceptions=True)
    if report_runner is not None:
        await report_runner.close()
    if reader is not None:
        await reader.dispose()
    await engine.dispose()


async def _check_migrated_later(engine) -> None:
    """The database was not reachable at start: check its schema as soon as it answers."""
    while True:
        await asyncio.sleep(START_RETRY_SECONDS)
        try:
            await db.check_migrated(engine)
        except db.NotMigrated as exc:
            log.error("%s", exc)
        except Exception:  # noqa: BLE001 - still unreachable
            continue
        else:
            log.info("database reachable again: serving")
            return


async def _walk_audit_chain(walk: Callable[[], Awaitable[audit.ChainReport]], stop: asyncio.Event) -> None:
    """At start and every ``Verified.FULL_EVERY`` seconds, walk the whole audit chain (the access log page verifies
    only the entries appended since), with ``walk``: on readers' connections (no lock, no writer waits), in the
    report thread when there is one."""
    while True:
        try:
            report = await walk()
            if not report.ok:
                log.error("audit chain broken at entry %s: %s", report.first_broken_id, report.reason)
        except Exception as exc:  # noqa: BLE001 - tried again next time
            log.warning("audit chain walk failed: %s", type(exc).__name__)
        try:
            await asyncio.wait_for(stop.wait(), audit.Verified.FULL_EVERY)
            return
        except TimeoutError:
            pass


async def _outbox_sender(app: web.Application) -> AsyncIterator[None]:
    """Send due reminders and notices in the background (VB_OUTBOX_WORKER), stopping cleanly on shutdown."""
    settings = app[SETTINGS]
    if not settings.outbox_worker:
        yield
        return
    async with channels.open_channels(settings) as open_channels:
        if not open_channels:
            log.info("outbox sender off: neither VB_SMTP_HOST nor VB_SMS_GATEWAY_URL is set")
            yield
            return
        stop = asyncio.Event()
        task = asyncio.create_task(
            sender.run_forever(
                app[SESSIONMAKER], settings, app[CLOCK], open_channels, lock=app.get(SQLITE_LOCK), stop=stop
            ),
            name="outbox-sender",
        )
        yield
        stop.set()  # the message being sent is finished and recorded; the loop then ends
        try:
            await asyncio.wait_for(task, channels.SEND_TIMEOUT + 5)
        except TimeoutError:
            log.warning("outbox sender did not stop in time; its message is retried when the lease ends")
        except Exception as exc:  # noqa: BLE001 - shutting down regardless
            log.error("outbox sender ended with %s", type(exc).__name__)


async def _audit_anchors(app: web.Application) -> AsyncIterator[None]:
    """The chains' heads written outside the database (``audit/anchors.py``), after the database is open: at
    start, every VB_AUDIT_ANCHOR_MINUTES, and at shutdown once the requests are done."""
    settings = app[SETTINGS]
    path = Path(settings.data_dir) / audit_anchors.ANCHOR_FILE
    writer = audit_anchors.Anchoring(app[SESSIONMAKER], path, app.get(SQLITE_LOCK))
    await writer.anchor_quietly(audit_anchors.STOP_SECONDS, force=True)
    stop = asyncio.Event()
    task = asyncio.create_task(writer.run(settings.audit_anchor_minutes * 60, stop), name="audit-anchors")
    yield
    stop.set()
    await task
    await writer.anchor_quietly(audit_anchors.STOP_SECONDS, force=True)


async def _signaling(app: web.Application) -> AsyncIterator[None]:
    """The video-call signalling server: who may join is decided here (join tickets), events are kept here."""
    settings, clock, sessions_, lock = app[SETTINGS], app[CLOCK], app[SESSIONMAKER], app.get(SQLITE_LOCK)
    broker = (
        await RedisBroker.connect(
            settings.redis_url,
            prefix=f"{settings.redis_prefix}:signaling",
            start_without=True,  # Redis down at start: serve (pages need no Redis), calls wait for it
            timeout=settings.dependency_timeout_seconds,
        )
        if settings.redis_url
        # One process: the places and resume tokens are also kept in the data folder, so a restart does not end
        # anyone's call (docs/signaling.md, "Restarts").
        else InProcessBroker(state_path=Path(settings.data_dir) / SIGNALING_STATE_FILE)
    )

    async def authorize(ticket: str) -> Participant | None:
        async with db.transaction(sessions_, lock) as session:
            joiner = await call_access.redeem(session, ticket, settings, clock())
        return Participant(**dataclasses.asdict(joiner)) if joiner else None

    def origins(_request: web.Request) -> frozenset[str]:
        return app[ALLOWED_ORIGINS]

    async def on_events(events: list[Event]) -> None:
        async with db.transaction(sessions_, lock) as session:
            await calls.record_events(session, events)

    # A call's events are written together a moment after they happen, so that its set-up (two ticket
    # redemptions) does not queue behind its own session-log writes for SQLite's one writer.
    server = SignalingServer(
        authorize=authorize,
        on_event=on_events,
        broker=broker,
        allowed_origins=origins,
        limits=Limits(event_delay=EVENT_DELAY),
        clock=lambda: clock().timestamp(),
    )
    app[SIGNALING] = server
    await server.recover()  # after a restart: the places kept are dropped ones that may resume (their grace runs)
    checker = asyncio.create_task(_check_call_access(server, app), name="call-access")
    yield
    checker.cancel()
    await asyncio.gather(checker, return_exceptions=True)
    await server.close()
    await broker.close()


async def _check_call_access(server: SignalingServer, app: web.Application) -> None:
    """Every few moments, take whoever's access has ended out of the calls this process holds sockets in, and end
    the calls whose time is over (vbostotte/calls/call_access.py)."""
    settings, clock, sessions_, lock = app[SETTINGS], app[CLOCK], app[SESSIONMAKER], app.get(SQLITE_LOCK)
    readers = app[READ_SESSIONMAKER]
    while True:
        await asyncio.sleep(call_access.CHECK_SECONDS)
        try:
            placed = await server.placed_here()
            if not placed:
                continue
            now = clock()
            async with readers() as session:  # a read: no writer waits for it
                removals = await call_access.who_must_go(session, placed, settings, now)
            if removals.active_sessions:
                async with db.transaction(sessions_, lock) as session:
                    await call_access.note_activity(session, removals.active_sessions, settings, now)
            for room in removals.rooms:
                await server.end_room(room)
            for room, pid in removals.participants:
                await server.remove(room, pid)
        except Exception as exc:  # noqa: BLE001 - a database or Redis outage: check again next time
            log.warning("checking call access failed: %s", type(exc).__name__)


async def _tell_call_clients_to_reconnect(app: web.Application) -> None:
    """on_shutdown runs before aiohttp waits for the handlers in flight, and a WebSocket handler lasts as long as
    its call: close the call sockets now (1012, "reconnect") so a rolling restart waits for requests, not calls."""
    if SIGNALING in app:
        await app[SIGNALING].close()


async def _echo_peers(app: web.Application) -> AsyncIterator[None]:
    """The connection test's server-side echo peers: few, time-limited, all closed on shutdown."""
    peers = EchoPeers()
    app[ECHO_PEERS] = peers
    yield
    await peers.close()
