"""The staff member's own API keys: make one (shown once), see the active ones, revoke one."""

from __future__ import annotations

from aiohttp import web

from vbostotte.errors import InvalidInput
from vbostotte.identity import api_tokens
from vbostotte.web import base
from vbostotte.web.validation import Form

TEMPLATE = "account/api_keys.html"
LIFETIMES = tuple(str(days) for days in api_tokens.LIFETIMES_DAYS)


async def _page(request: web.Request, **extra) -> dict:
    tokens = await api_tokens.active_tokens(base.db(request), base.actor(request), base.now(request))
    return {
        "tokens": tokens,
        "lifetimes": LIFETIMES,
        "values": {},
        "errors": {},
        "new_token": None,
        "done": request.query.get("done", ""),
        **extra,
    }


async def api_keys(request: web.Request) -> web.Response:
    """GET: the page. POST: a new key, shown once in the response (never stored, never in a redirect)."""
    if request.method == "GET":
        return base.render(request, TEMPLATE, await _page(request))
    if request.method != "POST":
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
    form = Form(await base.form(request))
    label, days = form.text("label", max_len=80), form.choice("days", LIFETIMES)
    try:
        form.check()
        token = await api_tokens.create(
            base.db(request), base.actor(request), form.checked(label), int(form.checked(days)), base.now(request)
        )
    except InvalidInput as exc:
        return base.render_invalid(request, TEMPLATE, await _page(request, values=dict(form.data)), exc)
    return base.render(request, TEMPLATE, await _page(request, new_token=token))


async def api_key_revoke(request: web.Request) -> web.Response:
    await api_tokens.revoke(base.db(request), base.actor(request), base.object_id(request), base.now(request))
    raise base.redirect(request, "account_api_keys", query={"done": "revoked"})
