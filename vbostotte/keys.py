"""Typed keys for what lives on the application (no module-level state anywhere else)."""

from __future__ import annotations

import datetime as dt
from typing import Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from vbostotte.config import Settings

SETTINGS: web.AppKey[Settings] = web.AppKey("settings", Settings)
ENGINE: web.AppKey[AsyncEngine] = web.AppKey("engine", AsyncEngine)
SESSIONMAKER: web.AppKey[async_sessionmaker[AsyncSession]] = web.AppKey("sessionmaker", async_sessionmaker)
CLOCK: web.AppKey[Callable[[], dt.datetime]] = web.AppKey("clock", object)
