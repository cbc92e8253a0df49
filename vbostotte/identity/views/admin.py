"""Administrators' pages: staff accounts and teams of their municipality."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from vbostotte import access, i18n
from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_
from vbostotte.identity import organisation
from vbostotte.models import StaffRole
from vbostotte.reminders import outbox
from vbostotte.web import base
from vbostotte.web.validation import Form

ROLES = tuple(role.value for role in StaffRole)


async def home(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.ADMIN)
    db = base.db(request)
    context = {
        "staff": await organisation.list_staff(db, who),
        "teams": await organisation.teams_with_members(db, who),
        "done": request.query.get("done", ""),
    }
    return base.render(request, "admin/home.html", context)


async def staff_new(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.ADMIN)
    context: dict[str, Any] = {
        "role_options": [(role, i18n.role_label(role), None) for role in ROLES],
        "values": {},
        "errors": {},
    }
    if request.method != "POST":
        return base.render(request, "admin/staff_new.html", context)
    data = await base.form(request)
    context["values"] = {k: v for k, v in data.items() if k in ("name", "email", "role") and isinstance(v, str)}
    form = Form(data)
    name = form.text("name", max_len=100)
    email = form.email("email")
    role = form.choice("role", ROLES)
    password = form.password("password")
    try:
        form.check()
        await organisation.create_staff(
            base.db(request),
            who,
            who.known_municipality_id,
            email=form.checked(email),
            name=form.checked(name),
            role=StaffRole(role),
            password=form.checked(password),
            now=base.now(request),
        )
    except InvalidInput as exc:
        return base.render_invalid(request, "admin/staff_new.html", context, exc)
    raise base.redirect(request, "admin_home", query={"done": "staff_created"})


async def staff_active(request: web.Request) -> web.Response:
    who = base.actor(request)
    form = Form(await base.form(request))
    active = form.choice("active", ("1", "0"))
    form.check()
    await organisation.set_active(base.db(request), who, base.object_id(request), active == "1")
    raise base.redirect(request, "admin_home", query={"done": "staff_updated"})


async def team_new(request: web.Request) -> web.Response:
    who = base.actor(request)
    access.require_role(who, StaffRole.ADMIN)
    form = Form(await base.form(request))
    name = form.text("name", max_len=100)
    form.check()
    await organisation.create_team(base.db(request), who, form.checked(name))
    raise base.redirect(request, "admin_home", query={"done": "team_created"})


async def team_member(request: web.Request) -> web.Response:
    who = base.actor(request)
    form = Form(await base.form(request))
    staff_id = form.integer("staff_id")
    form.check()
    await organisation.add_member(base.db(request), who, base.object_id(request), form.checked(staff_id))
    raise base.redirect(request, "admin_home", query={"done": "member_added"})


async def team_phone(request: web.Request) -> web.Response:
    """The number the team's citizens call to reach it; an empty field removes it."""
    who = base.actor(request)
    form = Form(await base.form(request))
    phone = form.phone("phone")
    form.check()
    await organisation.set_team_phone(base.db(request), who, base.object_id(request), phone)
    raise base.redirect(request, "admin_home", query={"done": "team_phone"})


REMINDER_CHOICES = ("2880", "1440", "180", "60")  # minutes before: 2 days, 1 day, 3 hours, 1 hour


async def booking_settings(request: web.Request) -> web.Response:
    """The municipality's reminder schedule, confirmation cut-off and crisis-line text."""
    who = base.actor(request)
    access.require_role(who, StaffRole.ADMIN)
    db = base.db(request)
    current = await outbox.municipality_settings(db, who.known_municipality_id)
    values = {
        "offsets": outbox.reminder_offsets(current),
        "cutoff": str(current.confirm_cutoff_minutes // 60),
        "crisis_line_text": current.crisis_line_text,
    }
    context = {
        "values": values,
        "reminder_choices": REMINDER_CHOICES,
        "errors": {},
        "done": request.query.get("done", ""),
    }
    if request.method != "POST":
        return base.render(request, "admin/settings.html", context)
    data = await base.form(request)
    form = Form(data)
    offsets = [int(v) for v in data.getall("offsets", []) if v in REMINDER_CHOICES]
    if len(offsets) != len(data.getall("offsets", [])):
        form.errors["offsets"] = N_("Choose one of the options.")
    cutoff = form.integer("cutoff")
    if cutoff is not None and not 0 <= cutoff <= 72:
        form.errors["cutoff"] = N_("Choose a number of hours from 0 to 72.")
    crisis = form.text("crisis_line_text", max_len=500, required=False) or ""
    try:
        form.check()
        await organisation.update_booking_settings(
            db,
            who,
            reminder_offsets_minutes=offsets,
            confirm_cutoff_minutes=form.checked(cutoff) * 60,
            crisis_line_text=crisis,
        )
    except InvalidInput as exc:
        context["values"] = {"offsets": offsets, "cutoff": data.get("cutoff", ""), "crisis_line_text": crisis}
        return base.render_invalid(request, "admin/settings.html", context, exc)
    raise base.redirect(request, "admin_settings", query={"done": "saved"})
