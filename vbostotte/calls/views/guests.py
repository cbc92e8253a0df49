"""Guest links: the worker makes or stops a relative's link on the call page; a guest (interpreter, relative)
opens their link, sees the same pre-join screen and waiting room as the citizen, and gets a join ticket."""

from __future__ import annotations

from aiohttp import web

from vbostotte.calls import calls, guests
from vbostotte.calls.views.calls import SOCKET_PATH, call_context, waiting_room
from vbostotte.identity import photos
from vbostotte.web import base
from vbostotte.web.validation import Form

KINDS = (guests.INTERPRETER, guests.RELATIVE)


def _wants_json(request: web.Request) -> bool:
    return request.headers.get("Accept", "").startswith("application/json")


async def create(request: web.Request) -> web.Response:
    """The worker makes a new link for the interpreter or a relative (a relative's only with the citizen's
    consent); JSON for the page's script, a redirect back to the call page without it."""
    who = base.actor(request)
    form = Form(await base.form(request))
    kind = form.choice("kind", KINDS)
    name = form.text("name", max_len=guests.MAX_NAME)
    form.check()
    link = await guests.create_link(
        base.db(request),
        who,
        base.object_id(request),
        form.checked(kind),
        form.checked(name),
        base.settings(request),
        base.now(request),
    )
    if _wants_json(request):
        return web.json_response({"kind": link.kind, "name": link.name, "url": link.url})
    raise base.redirect(request, "call", query={"done": "guest_link"}, id=base.object_id(request))


async def revoke(request: web.Request) -> web.Response:
    """The worker stops a guest link of their call (by whom it is for: the interpreter or the relative)."""
    who = base.actor(request)
    form = Form(await base.form(request))
    kind = form.choice("kind", KINDS)
    form.check()
    await guests.revoke(base.db(request), who, base.object_id(request), form.checked(kind), base.now(request))
    if _wants_json(request):
        return web.json_response({"kind": kind, "revoked": True})
    raise base.redirect(request, "call", query={"done": "guest_link_revoked"}, id=base.object_id(request))


async def page(request: web.Request) -> web.Response:
    """A guest's call page: pre-join with the name prefilled, then the waiting room and the call."""
    token = request.match_info["token"]
    now, settings = base.now(request), base.settings(request)
    visit = await guests.open_link(base.db(request), token, settings, now)
    here = base.url(request, "guest_call", token=token)
    return base.render(
        request,
        "calls/call.html",
        call_context(
            request,
            visit.appointment,
            is_host=False,
            ticket_url=base.url(request, "guest_ticket", token=token),
            after_url=here + "?done=call_ended",
            guest_name=visit.link.name,
            done=request.query.get("done", ""),
            **await waiting_room(request, visit.appointment, ("guest_worker_photo", {"token": token})),
        ),
    )


async def worker_photo(request: web.Request) -> web.Response:
    """The photo of the worker who lets the guest in, for the holder of a working link to the worker's call."""
    visit = await guests.open_link(
        base.db(request), request.match_info["token"], base.settings(request), base.now(request)
    )
    photo = await photos.shown_to_guest(base.db(request), visit.appointment)
    return base.private_image(request, photo.data, photo.content_type, photo.version)


async def ticket(request: web.Request) -> web.Response:
    """A single-use ticket (role guest) for the link's call, with the ICE servers."""
    form = Form(await base.form(request))
    name = form.text("name", max_len=guests.MAX_NAME, required=False)
    form.check()
    now, settings = base.now(request), base.settings(request)
    token, visit = await guests.issue_ticket(base.db(request), request.match_info["token"], name, settings, now)
    servers = calls.ice_servers_for(settings, ttl_seconds=calls.call_turn_seconds(visit.appointment, settings, now))
    return web.json_response(
        {
            "ticket": token,
            "socket": SOCKET_PATH,
            "expires_in": calls.TICKET_SECONDS,
            "ice_servers": servers,
            "ice_transport_policy": "all",
        }
    )
