"""Who is waiting for the worker, as JSON for the staff pages' waiting notice (``web/static/js/waiting_notice.js``
asks every few seconds): the people in the waiting rooms of the worker's open video sessions, how long they have
waited, and the call page where the worker lets them in."""

from __future__ import annotations

from aiohttp import web

from vbostotte.calls import call_requests, waiting
from vbostotte.web import base
from vbostotte.web.keys import SIGNALING

POLL_SECONDS = 3  # how often the page asks; the notice shows a person at most this long after they arrive


async def waiting_now(request: web.Request) -> web.Response:
    """``{"waiting": [{appointment, participant, name, citizen, waited_seconds, url}],
    "requests": [{request, name, call_url, propose_url}], "poll_seconds": n}``."""
    who = base.actor(request)
    rooms = request.app[SIGNALING].rooms
    found = await waiting.for_worker(base.db(request), who, base.settings(request), base.now(request), rooms.members)
    # "I'd like to talk to you": the citizens asking this worker for a call (calls/call_requests.py).
    asking = await call_requests.pending_for_worker(base.db(request), who, base.now(request))
    return web.json_response(
        {
            "waiting": [
                {
                    "appointment": w.appointment_id,
                    "participant": w.participant,
                    "name": w.name,
                    "citizen": w.citizen,
                    "waited_seconds": w.waited_seconds,
                    "url": base.url(request, "call", id=w.appointment_id),
                }
                for w in found
            ],
            "requests": [
                {
                    "request": r.id,
                    "name": r.name,
                    "call_url": base.url(request, "citizen_call_now_start", id=r.citizen_id),
                    "propose_url": base.url(request, "appointment_new")
                    + f"?citizen_id={r.citizen_id}&call_request={r.id}",
                }
                for r in asking
            ],
            "poll_seconds": POLL_SECONDS,
        }
    )  # never cached: security.add_headers sends no-store for everything but static files
