"""Consent pages: the citizen gives or withdraws on their own page, the worker records what the citizen
said, the administrator keeps the kinds and their texts. The reads are shown by the citizen's and the
worker's pages (``views.citizen``, ``views.staff``)."""

from __future__ import annotations

from aiohttp import web

from vbostotte import access, audit
from vbostotte.errors import InvalidInput, PermissionDenied
from vbostotte.models import StaffRole
from vbostotte.privacy import consent
from vbostotte.web import base
from vbostotte.web.validation import Form

ACTIONS = ("give", "withdraw")


async def _codes(db, municipality_id: int) -> list[str]:
    return [kind.code for kind, _ in await consent.latest_versions(db, municipality_id)]


def _change(action: str):
    return consent.give if action == "give" else consent.withdraw


async def citizen_change(request: web.Request) -> web.Response:
    """One tap on the citizen's page: give or withdraw one consent. No confirmation step either way."""
    who = base.actor(request)
    if not who.is_citizen:
        raise PermissionDenied()
    db = base.db(request)
    form = Form(await base.form(request))
    kind = form.choice("kind", await _codes(db, who.known_municipality_id))
    action = form.choice("action", ACTIONS)
    form.check()
    await _change(form.checked(action))(db, who, who.id, kind, consent.How.CITIZEN_PAGE, base.now(request))
    location = base.url(request, "citizen_consents") + f"?done=consent_{action}#consents"
    raise web.HTTPSeeOther(location)


async def worker_record(request: web.Request) -> web.Response:
    """The worker records a consent the citizen gave or withdrew by word of mouth (marked as such)."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db = base.db(request)
    citizen = await access.citizen_for(db, who, base.object_id(request), "consent.record", audit.Purpose.SUPPORT)
    form = Form(await base.form(request))
    kind = form.choice("kind", await _codes(db, citizen.municipality_id))
    action = form.choice("action", ACTIONS)
    how = form.choice("how", consent.VERBAL)
    form.check()
    await _change(form.checked(action))(db, who, citizen.id, kind, how, base.now(request))
    raise base.redirect(request, "citizen_detail", query={"done": "consent"}, id=citizen.id)


def _text(form: Form) -> consent.Text:
    return consent.Text(
        title_da=form.text("title_da", max_len=consent.TITLE_MAX) or "",
        text_da=form.text("text_da", max_len=consent.TEXT_MAX) or "",
        title_en=form.text("title_en", max_len=consent.TITLE_MAX) or "",
        text_en=form.text("text_en", max_len=consent.TEXT_MAX) or "",
    )


def _values(data) -> dict[str, str]:
    return {
        k: v
        for k, v in data.items()
        if k in ("code", "title_da", "text_da", "title_en", "text_en") and isinstance(v, str)
    }


async def admin_kinds(request: web.Request) -> web.Response:
    """The municipality's kinds of consent with their current texts, and a form to add one."""
    who = base.actor(request)
    access.require_role(who, StaffRole.ADMIN)
    db = base.db(request)
    context = {
        "kinds": await consent.list_kinds(db, who),
        "values": {},
        "errors": {},
        "done": request.query.get("done", ""),
    }
    if request.method != "POST":
        return base.render(request, "admin/consents.html", context)
    data = await base.form(request)
    context["values"] = _values(data)
    form = Form(data)
    code = form.text("code", max_len=40)
    text = _text(form)
    try:
        form.check()
        kind = await consent.add_kind(db, who, form.checked(code), text, base.now(request))
    except InvalidInput as exc:
        return base.render_invalid(request, "admin/consents.html", context, exc)
    raise base.redirect(request, "admin_consent_kind", query={"done": "added"}, id=kind.id)


async def admin_kind(request: web.Request) -> web.Response:
    """One kind: every version of its text, and a form to change it (which adds a version)."""
    who = base.actor(request)
    db = base.db(request)
    kind, versions = await consent.history(db, who, base.object_id(request))
    latest = versions[0]
    context = {
        "kind": kind,
        "versions": versions,
        "errors": {},
        "done": request.query.get("done", ""),
        "values": {
            "title_da": latest.title_da,
            "text_da": latest.text_da,
            "title_en": latest.title_en,
            "text_en": latest.text_en,
        },
    }
    if request.method != "POST":
        return base.render(request, "admin/consent_kind.html", context)
    data = await base.form(request)
    context["values"] = _values(data)
    form = Form(data)
    text = _text(form)
    try:
        form.check()
        await consent.change_text(db, who, kind.id, text, base.now(request))
    except InvalidInput as exc:
        return base.render_invalid(request, "admin/consent_kind.html", context, exc)
    raise base.redirect(request, "admin_consent_kind", query={"done": "saved"}, id=kind.id)
