"""A staff member's own photo: the account page where they add, change or remove it (with a preview), and the photo
itself for those allowed to see it (identity/photos.py says who)."""

from __future__ import annotations

from aiohttp import web

from vbostotte.errors import InvalidInput
from vbostotte.identity import photos
from vbostotte.web import base

TEMPLATE = "account/photo.html"


async def _page(request: web.Request, **extra) -> dict:
    who = base.actor(request)
    version = await photos.own(base.db(request), who)
    return {
        "photo_url": base.url(request, "staff_photo", id=who.known_id) + f"?v={version}" if version else None,
        "max_kb": photos.MAX_BYTES // 1000,
        "side": photos.SIDE,
        "errors": {},
        "done": request.query.get("done", ""),
        **extra,
    }


def _upload(data) -> bytes:
    """The bytes of the form's one photo file (nothing, or not a file: empty, which the service refuses)."""
    values = data.getall(photos.FIELD, [])
    field = values[0] if len(values) == 1 else None
    if field is None or isinstance(field, str) or not hasattr(field, "file"):
        return b""
    return field.file.read(photos.MAX_BYTES + 1)


async def page(request: web.Request) -> web.Response:
    """GET: the account page's photo part. POST: a new photo (checked, re-encoded), then back to the page."""
    if request.method == "GET":
        return base.render(request, TEMPLATE, await _page(request))
    if request.method != "POST":
        raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
    data = await base.form(request)
    try:
        await photos.set_own(base.db(request), base.actor(request), _upload(data), base.now(request))
    except InvalidInput as exc:
        return base.render_invalid(request, TEMPLATE, await _page(request), exc)
    raise base.redirect(request, "account_photo", query={"done": "saved"})


async def remove(request: web.Request) -> web.Response:
    await photos.remove_own(base.db(request), base.actor(request))
    raise base.redirect(request, "account_photo", query={"done": "removed"})


async def show(request: web.Request) -> web.Response:
    """The photo, for the staff member, their colleagues, their citizens (404 for anyone else)."""
    photo = await photos.shown_to(base.db(request), base.actor(request), base.object_id(request))
    return base.private_image(request, photo.data, photo.content_type, photo.version)
