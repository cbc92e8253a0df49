"""Between appointments: the worker's "call now" (from a citizen's page, or answering a request), the citizen's
"I'd like to talk to you" tap, and the citizen start page's poll for a call that has opened (JSON, so the call card
appears without a reload: ``web/static/js/citizen_home.js``)."""

from __future__ import annotations

from aiohttp import web

from vbostotte import i18n
from vbostotte.calls import call_now, call_requests
from vbostotte.errors import PermissionDenied
from vbostotte.models import CallRequestAnswer
from vbostotte.web import base
from vbostotte.web.validation import Form

POLL_SECONDS = 5  # how often the citizen's start page asks whether a call has opened


async def start(request: web.Request) -> web.Response:
    """Start an unscheduled video session with the citizen now (answering a request if the form names one), then
    open the call page."""
    who = base.actor(request)
    db, now, settings = base.db(request), base.now(request), base.settings(request)
    form = Form(await base.form(request))
    answering = form.integer("call_request", required=False)
    form.check()
    if answering is not None:
        await call_requests.request_for(db, who, answering)  # another's request is not found, before anything
    appointment = await call_now.start(db, who, base.object_id(request), settings, now)
    if answering is not None:
        await call_requests.answer(db, who, answering, CallRequestAnswer.CALLED, appointment, now)
    raise base.redirect(request, "call", id=appointment.id)


async def citizen_call(request: web.Request) -> web.Response:
    """``{"call": {id, url, heading, button} | null, "poll_seconds": n}``: the citizen's call open now."""
    who = base.actor(request)
    if not who.is_citizen:
        raise PermissionDenied()
    appointment = await call_now.open_call_for_citizen(base.db(request), who, base.settings(request), base.now(request))
    call = None
    if appointment is not None:
        call = {
            "id": appointment.id,
            "url": base.url(request, "call", id=appointment.id),
            "heading": i18n.gettext("Your video session with %(worker)s", worker=appointment.worker.name.split()[0]),
            "when": i18n.upfirst(i18n.format_when(appointment.starts_at)),
        }
    return web.json_response({"call": call, "poll_seconds": POLL_SECONDS})


async def ask(request: web.Request) -> web.Response:
    """The citizen's one tap: "I'd like to talk to you"."""
    who = base.actor(request)
    await call_requests.ask(base.db(request), who, base.now(request))
    raise base.redirect(request, "citizen_home", query={"done": "talk_asked"})
