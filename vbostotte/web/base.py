"""What every thin handler needs: the request's database session, actor, clock, form and redirects."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web
from multidict import MultiDictProxy
from sqlalchemy.ext.asyncio import AsyncSession
from yarl import URL

from vbostotte import i18n
from vbostotte.actors import Actor
from vbostotte.config import Settings
from vbostotte.errors import InvalidInput, NotAuthenticated, NotFound
from vbostotte.models import WebSession
from vbostotte.web import rendering, security
from vbostotte.web.keys import ACTOR, CLOCK, DB, SETTINGS, WEB_SESSION
from vbostotte.web.validation import MAX_ID, read_form


def db(request: web.Request) -> AsyncSession:
    return request[DB]


def actor(request: web.Request) -> Actor:
    """The signed-in actor; anonymous visitors are sent to the login page."""
    who: Actor = request[ACTOR]
    if who.kind not in ("staff", "citizen"):
        raise NotAuthenticated()
    return who


def web_session(request: web.Request) -> WebSession:
    """The browser session the request came with (a call ticket remembers it); none: sent to the login page."""
    session = request.get(WEB_SESSION)
    if session is None:
        raise NotAuthenticated()
    return session


def now(request: web.Request) -> dt.datetime:
    return request.app[CLOCK]()


def settings(request: web.Request) -> Settings:
    return request.app[SETTINGS]


def object_id(request: web.Request) -> int:
    """The ``{id}`` of the URL (the route pattern already restricts it to ASCII digits)."""
    try:
        value = int(request.match_info["id"])
    except (KeyError, ValueError):
        raise NotFound() from None
    if value > MAX_ID:
        raise NotFound()
    return value


async def form(request: web.Request) -> MultiDictProxy:
    return await read_form(request)


def url(request: web.Request, name: str, **parts: Any) -> str:
    return str(request.app.router[name].url_for(**{k: str(v) for k, v in parts.items()}))


def redirect(request: web.Request, name: str, query: dict[str, str] | None = None, **parts: Any) -> web.HTTPSeeOther:
    """A 303 to a named route (after a POST, so a reload never repeats it)."""
    location = url(request, name, **parts)
    if query:
        location = str(URL(location).with_query(query))
    return web.HTTPSeeOther(location)


render = rendering.render


def private_image(request: web.Request, data: bytes, content_type: str, version: str) -> web.Response:
    """An image only some people may see: cached by the viewer's browser alone and checked again each time it is
    shown (a 304 when the browser has this version already)."""
    headers = {"ETag": f'"{version}"', "Cache-Control": security.PRIVATE_CACHE}
    if headers["ETag"] in request.headers.get("If-None-Match", ""):
        return web.Response(status=304, headers=headers)
    return web.Response(body=data, content_type=content_type, headers=headers)


def render_invalid(request: web.Request, template: str, context: dict[str, Any], exc: InvalidInput) -> web.Response:
    """Show the form again, with what was typed and a message per field, as 422."""
    errors = {name: i18n.gettext(message) for name, message in exc.errors.items()}
    return render(
        request, template, {**context, "errors": errors, "error_summary": i18n.gettext(exc.message)}, status=422
    )
