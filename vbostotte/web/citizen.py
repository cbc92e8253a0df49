"""The citizen's own pages: one start page with their coming appointments, in plain words."""

from __future__ import annotations

from aiohttp import web

from vbostotte import audit
from vbostotte.booking import appointments, availability
from vbostotte.calls import calls
from vbostotte.care.views import checkins as checkin_views
from vbostotte.care.views import goals as goal_views
from vbostotte.errors import PermissionDenied
from vbostotte.identity import citizens
from vbostotte.models import Citizen
from vbostotte.privacy import consent
from vbostotte.reminders import outbox
from vbostotte.web import base


async def home(request: web.Request) -> web.Response:
    who = base.actor(request)
    if not who.is_citizen:
        raise PermissionDenied()
    db, now = base.db(request), base.now(request)
    upcoming = await appointments.upcoming_for_citizen(db, who, now)
    workers = await citizens.workers_of(db, await db.get(Citizen, who.id))
    hours = await availability.message_hours(db, [w.id for w in workers])
    contacts = [
        {"name": w.name.split()[0], "hours": hours[w.id], "now": availability.answering_now(hours[w.id], now)}
        for w in workers
    ]
    crisis = (await outbox.municipality_settings(db, who.municipality_id)).crisis_line_text
    return base.render(
        request,
        "citizen/home.html",
        {
            "appointments": upcoming,
            "done": request.query.get("done", ""),
            "contacts": contacts,
            "open_calls": {
                a.id for a in upcoming if a.kind.value == "video" and calls.is_open(a, base.settings(request), now)
            },
            "crisis_line_text": crisis if not any(c["now"] for c in contacts) else "",
            "consents": await consent.read_states(db, who, who.id, audit.Purpose.SELF_SERVICE),
            **await goal_views.citizen_context(request, who),
            **await checkin_views.home_context(db, who, now),
        },
    )
