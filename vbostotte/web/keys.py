"""Typed keys for what lives on the application (no module-level state anywhere else)."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from signaling.echo import EchoPeers
from vbostotte.actors import Actor
from vbostotte.config import Settings
from vbostotte.models import WebSession

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine", AsyncEngine)
SESSIONMAKER: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessionmaker", async_sessionmaker)
# The same database, read-only (db.guard_read_only): the sessions of GET requests, which never wait for a writer.
READ_SESSIONMAKER: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("read_sessionmaker", async_sessionmaker)
# Where reports run (vbostotte.web.reports.Reports): a low-priority thread of their own; none for SQLite in memory.
REPORTS: web.AppKey[Any] = web.AppKey("reports", object)
# Appends read-only requests' audit entries together (vbostotte.audit.group_commit.GroupCommit); built at start-up.
AUDIT_GROUP_COMMIT: web.AppKey[Any] = web.AppKey("audit_group_commit", object)
# The audit chain's last intact verification (vbostotte.audit.Verified): the access log verifies only what is new.
AUDIT_VERIFIED: web.AppKey[Any] = web.AppKey("audit_verified", object)
# SQLite allows one writer; in one process, queue transactions here (FIFO, no sleeping busy-wait).
SQLITE_LOCK: web.AppKey[asyncio.Lock] = web.AppKey("sqlite_lock", asyncio.Lock)
# The signalling server (signaling.SignalingServer) for video calls; built at start-up.
SIGNALING: web.AppKey[Any] = web.AppKey("signaling", object)
# The connection test's echo peers (signaling.echo.EchoPeers); built at start-up, closed on shutdown.
ECHO_PEERS: web.AppKey[EchoPeers] = web.AppKey("echo_peers", EchoPeers)
CLOCK: web.AppKey[Callable[[], dt.datetime]] = web.AppKey("clock")
# The origins our pages are served from (security.allowed_origins): VB_BASE_URL's and VB_EXTRA_ORIGINS.
ALLOWED_ORIGINS: web.AppKey[frozenset[str]] = web.AppKey("allowed_origins", frozenset)
# Prometheus metrics of this application (vbostotte.operations.metrics.Metrics); built in create_app.
METRICS: web.AppKey[Any] = web.AppKey("metrics", object)
# OpenID providers' discovery documents and keys (vbostotte.identity.oidc.ProviderCache); built in create_app.
OIDC_CACHE: web.AppKey[Any] = web.AppKey("oidc_cache", object)

# What a request carries through the middlewares to the handlers.
DB: web.RequestKey[AsyncSession] = web.RequestKey("db", AsyncSession)
ACTOR: web.RequestKey[Actor] = web.RequestKey("actor", Actor)
SESSION_TOKEN: web.RequestKey[str] = web.RequestKey("session_token", str)
WEB_SESSION: web.RequestKey[WebSession] = web.RequestKey("web_session", WebSession)
# Set when the request was authenticated by an API token (Authorization: Bearer), not a cookie.
BEARER: web.RequestKey[bool] = web.RequestKey("bearer", bool)
CSP_NONCE: web.RequestKey[str] = web.RequestKey("csp_nonce", str)
NEW_CSRF_COOKIE: web.RequestKey[str] = web.RequestKey("new_csrf_cookie", str)
REQUEST_ID: web.RequestKey[str] = web.RequestKey("request_id", str)
# Work to run in a fresh transaction if the request's own is rolled back (see middlewares._unit_of_work).
AFTERWARDS: web.RequestKey[list[Callable[[AsyncSession], Awaitable[Any]]]] = web.RequestKey("afterwards", list)
