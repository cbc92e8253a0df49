"""Prometheus metrics (prometheus_client): requests and latencies by route name, this process's calls, and the
outbox read from the database at scrape time. Labels are route names, methods, status codes, channels and
statuses — never a path, an id, an address or anything else about a person.

Who may read ``/metrics``: a client from a network in ``VB_METRICS_ALLOW`` (the TCP peer, never a forwarded
header), or one sending ``Authorization: Bearer`` with ``VB_METRICS_TOKEN``. Everyone else gets 404.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hmac
import ipaddress
from collections.abc import Iterable

from aiohttp import web
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from vbostotte.config import Settings
from vbostotte.models import OutboxMessage, OutboxStatus

SCRAPE_TIMEOUT = 1.0  # seconds for the outbox query; a slow database gives vb_database_up 0, not a slow scrape
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _Snapshot:
    """Gauges computed just before each scrape (the collector interface is synchronous)."""

    def __init__(self) -> None:
        self.values: dict[str, list[tuple[dict[str, str], float]]] = {}
        self.help: dict[str, str] = {}

    def set(self, name: str, help: str, samples: Iterable[tuple[dict[str, str], float]]) -> None:
        self.help[name] = help
        self.values[name] = list(samples)

    def collect(self):
        for name, samples in self.values.items():
            labels = sorted(samples[0][0]) if samples else []
            family = GaugeMetricFamily(name, self.help[name], labels=labels)
            for values, value in samples:
                family.add_metric([values[label] for label in labels], value)
            yield family


class Metrics:
    """One registry per application (several apps in one test process never share counters)."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "vb_http_requests",
            "HTTP requests answered, by route name, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "vb_http_request_duration_seconds",
            "Time to answer an HTTP request (WebSockets excluded), by route name.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.snapshot = _Snapshot()
        self.registry.register(self.snapshot)  # a collector is anything with collect()

    def observe(self, route: str, method: str, status: int, seconds: float | None) -> None:
        self.requests.labels(route, method, str(status)).inc()
        if seconds is not None:
            self.latency.labels(route).observe(seconds)

    async def render(self, engine: AsyncEngine, signaling_stats: dict, now: dt.datetime) -> bytes:
        """The exposition text: request metrics, this process's signalling, the outbox from the database."""
        snap = self.snapshot
        snap.set(
            "vb_websockets_open",
            "Signalling WebSockets open in this process.",
            [({}, signaling_stats.get("connections", 0))],
        )
        snap.set(
            "vb_call_rooms",
            "Call rooms with a participant connected to this process.",
            [({}, signaling_stats.get("rooms", 0))],
        )
        snap.set(
            "vb_calls_in_progress",
            "Call rooms with an admitted participant connected to this process "
            "(a call whose participants are on two processes counts on both).",
            [({}, signaling_stats.get("calls", 0))],
        )
        snap.set(
            "vb_call_participants",
            "Call participants connected to this process, by state.",
            [
                ({"state": "admitted"}, signaling_stats.get("admitted", 0)),
                ({"state": "waiting"}, signaling_stats.get("waiting", 0)),
            ],
        )
        try:
            outbox = await asyncio.wait_for(_outbox_counts(engine, now), SCRAPE_TIMEOUT)
        except Exception:  # noqa: BLE001 - any failure, the timeout included, means the database is not answering
            outbox = None
        snap.set(
            "vb_database_up",
            "1 when the database answered the scrape's query in time.",
            [({}, 0 if outbox is None else 1)],
        )
        if outbox is not None:
            by_status, backlog, failed_reminders = outbox
            snap.set(
                "vb_outbox_messages",
                "Outbox rows by status and channel (the whole database).",
                [({"status": status, "channel": channel}, n) for (status, channel), n in sorted(by_status.items())],
            )
            snap.set(
                "vb_outbox_backlog",
                "Outbox messages due now and not yet sent (pending and due, or sending).",
                [({}, backlog)],
            )
            snap.set(
                "vb_reminder_failures",
                "Citizens' reminders given up (status failed), by channel.",
                [({"channel": ch}, failed_reminders.get(ch, 0)) for ch in ("email", "sms")],
            )
        else:
            for name in ("vb_outbox_messages", "vb_outbox_backlog", "vb_reminder_failures"):
                snap.values.pop(name, None)
        return generate_latest(self.registry)


async def _outbox_counts(engine: AsyncEngine, now: dt.datetime):
    async with engine.connect() as conn:
        conn = await conn.execution_options(read_only=True)  # SQLite: a plain BEGIN, never the write lock
        rows = (
            await conn.execute(
                select(OutboxMessage.status, OutboxMessage.channel, func.count()).group_by(
                    OutboxMessage.status, OutboxMessage.channel
                )
            )
        ).all()
        backlog = (
            await conn.execute(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    ((OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now))
                    | (OutboxMessage.status == OutboxStatus.SENDING)
                )
            )
        ).scalar_one()
        failed = (
            await conn.execute(
                select(OutboxMessage.channel, func.count())
                .where(OutboxMessage.status == OutboxStatus.FAILED, OutboxMessage.purpose == "reminder")
                .group_by(OutboxMessage.channel)
            )
        ).all()
    return {(s, c): n for s, c, n in rows}, backlog, dict(failed)


CONTENT_TYPE = CONTENT_TYPE_LATEST


def allowed(request: web.Request, settings: Settings) -> bool:
    """May this request read /metrics? A token (when configured) or a peer address in the allow-list."""
    if settings.metrics_token:
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {settings.metrics_token}".encode()):
            return True
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not peer:
        return False
    try:
        address = ipaddress.ip_address(peer[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in allowed_networks(settings.metrics_allow))


def allowed_networks(spec: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in spec.split(",") if part.strip()]


def route_name(request: web.Request) -> str:
    """The matched route's name (a closed set), or 'unmatched' for 404s: never the path itself."""
    route = request.match_info.route
    return route.name or ("unmatched" if route.resource is None else "unnamed")
