"""Support workers' pages: the week and caseload, registering a citizen, a citizen's page and link."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from vbostotte import access, audit, i18n
from vbostotte.booking import appointments, availability, lifecycle
from vbostotte.calls import calls
from vbostotte.care import checkins, sections
from vbostotte.errors import InvalidInput
from vbostotte.i18n import LOCALES, TZ
from vbostotte.identity import citizens, links, organisation
from vbostotte.models import StaffRole
from vbostotte.privacy import consent
from vbostotte.reminders import outbox
from vbostotte.web import base
from vbostotte.web.validation import Form


async def worker_home(request: web.Request) -> web.Response:
    """The worker's week (Monday to Sunday, Copenhagen time; ``?week=YYYY-MM-DD`` picks another) and caseload."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db, now = base.db(request), base.now(request)
    today = now.astimezone(TZ).date()
    form = Form(request.query)
    chosen = form.date("week", required=False) if "week" in request.query else None
    form.check()
    monday = (chosen or today) - dt.timedelta(days=(chosen or today).weekday())
    start, end = availability.to_utc(monday, 0), availability.to_utc(monday + dt.timedelta(days=7), 0)
    # One read serves the week shown and the coming day's follow-ups (which may fall in the next week).
    rows = await appointments.worker_calendar(
        db, who, min(start, now - dt.timedelta(hours=2)), max(end, now + dt.timedelta(days=1))
    )
    cutoff = (await outbox.municipality_settings(db, who.known_municipality_id)).confirm_cutoff_minutes
    opens = base.settings(request).call_opens_minutes
    caseload = await citizens.list_visible(db, who)
    missing_consents, consent_titles = await consent.read_missing(db, who, caseload, i18n.get_locale())
    return base.render(
        request,
        "worker/home.html",
        {
            "week": [(a, c) for a, c in rows if start <= a.starts_at < end],
            "follow_up": [(a, c) for a, c in rows if lifecycle.needs_follow_up(a, cutoff, now, opens)],
            "caseload": caseload,
            "missing_consents": missing_consents,
            "consent_titles": consent_titles,
            "attention": await checkins.needing_attention(db, who, now),
            "monday": monday,
            "sunday": monday + dt.timedelta(days=6),
            "week_number": monday.isocalendar().week,
            "previous_week": (monday - dt.timedelta(days=7)).isoformat(),
            "next_week": (monday + dt.timedelta(days=7)).isoformat(),
            "this_week": monday == today - dt.timedelta(days=today.weekday()),
        },
    )


def _citizen_form(data) -> tuple[citizens.NewCitizen, int | None]:
    form = Form(data)
    new = citizens.NewCitizen(
        name=form.text("name", max_len=100) or "",
        preferred_name=form.text("preferred_name", max_len=50) or "",
        phone=form.phone("phone"),
        email=form.email("email", required=False),
        locale=form.choice("locale", LOCALES) or "da",
    )
    team_id = form.integer("team_id", required=False)
    form.check()
    return new, team_id


async def citizen_new(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER, StaffRole.SUPERVISOR)
    db = base.db(request)
    teams = (
        [team for team, _ in await organisation.teams_with_members(db, who)]
        if who.has_role(StaffRole.SUPERVISOR)
        else []
    )
    context: dict[str, Any] = {"teams": teams, "values": {}, "errors": {}}
    if request.method != "POST":
        return base.render(request, "worker/citizen_new.html", context)
    data = await base.form(request)
    context["values"] = {k: v for k, v in data.items() if isinstance(v, str) and k != "csrf_token"}
    try:
        new, team_id = _citizen_form(data)
        citizen = await citizens.register(db, who, new, base.now(request), team_id=team_id)
    except InvalidInput as exc:
        return base.render_invalid(request, "worker/citizen_new.html", context, exc)
    raise base.redirect(request, "citizen_detail", id=citizen.id)


async def _citizen_page(request: web.Request, issued_link: str | None = None, done: str = "") -> web.Response:
    who = base.actor(request)
    access.require_staff(who)  # then which citizen: administrators see none (404, see access.visible_citizens)
    db, now = base.db(request), base.now(request)
    purpose = audit.Purpose.SUPERVISION if who.has_role(StaffRole.SUPERVISOR) else audit.Purpose.SUPPORT
    citizen = await access.citizen_for(db, who, base.object_id(request), "citizen.view", purpose)
    context = {
        "citizen": citizen,
        "workers": await citizens.workers_of(db, citizen),
        "team_workers": await citizens.team_workers(db, citizen.team_id) if who.has_role(StaffRole.SUPERVISOR) else [],
        "link": await links.active_link(db, citizen.id),
        "issued_link": issued_link,
        "appointments": await appointments.upcoming_for_citizen_as_staff(db, who, citizen, now),
        "done": done or request.query.get("done", ""),
        "consents": await consent.read_states(db, who, citizen.id, purpose),
        "verbal_ways": [(how, i18n.gettext(consent.HOW_LABELS[how]), "") for how in consent.VERBAL],
        "how_labels": consent.HOW_LABELS,
        "relay_available": calls.relay_available(base.settings(request)),  # the relay-only setting needs TURN
        **await sections.on_staff_citizen_page(db, who, citizen, now),
    }
    return base.render(request, "worker/citizen.html", context)


async def citizen_detail(request: web.Request) -> web.Response:
    return await _citizen_page(request)


async def link_issue(request: web.Request) -> web.Response:
    """Issue a new personal link. It is shown once, in this response, and never stored in clear."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER, StaffRole.SUPERVISOR)
    db = base.db(request)
    citizen = await access.citizen_for(db, who, base.object_id(request), "link.issue", audit.Purpose.SUPPORT)
    token = await links.issue(db, who, citizen, base.now(request))
    return await _citizen_page(request, issued_link=links.link_url(base.settings(request), token))


async def link_revoke(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER, StaffRole.SUPERVISOR)
    db = base.db(request)
    citizen = await access.citizen_for(db, who, base.object_id(request), "link.revoke", audit.Purpose.SUPPORT)
    await links.revoke(db, who, citizen, base.now(request))
    raise base.redirect(request, "citizen_detail", query={"done": "link_revoked"}, id=citizen.id)


async def call_privacy(request: web.Request) -> web.Response:
    """Hide the citizen's address from the others in calls (calls go through the relay server only)."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db = base.db(request)
    citizen = await access.citizen_for(db, who, base.object_id(request), "citizen.call_privacy", audit.Purpose.SUPPORT)
    form = Form(await base.form(request))
    relay = form.choice("relay", ("0", "1"))
    form.check()
    await citizens.set_force_relay(db, who, citizen, relay == "1")
    raise base.redirect(request, "citizen_detail", query={"done": "call_privacy"}, id=citizen.id)
