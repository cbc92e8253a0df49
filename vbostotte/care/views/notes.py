"""Session notes: the note page (write, sign, amend, history), the draft autosave endpoint, and where a
worker lands after an appointment. Rules live in ``care/notes.py``."""

from __future__ import annotations

import unicodedata

from aiohttp import web

from vbostotte import access, audit, i18n
from vbostotte.booking import appointments, booking
from vbostotte.care import goals, notes
from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_
from vbostotte.identity import citizens, organisation
from vbostotte.models import NoteStatus, StaffRole
from vbostotte.web import api, base
from vbostotte.web.api_models import MAX_NOTE_DRAFT_JSON, NoteDraft, NoteDraftSaved
from vbostotte.web.validation import Form, forbidden_characters

TEXT_FIELDS = ("talked_about", "agreements", "assessment")


class NoteForm(Form):
    """A form with multi-line text: line breaks and tabs are allowed, other control characters are not."""

    def paragraphs(self, name: str, *, max_len: int, required: bool = False) -> str:
        value = unicodedata.normalize("NFC", self._raw(name)).replace("\r\n", "\n").replace("\r", "\n").strip()
        if not value:
            if required and name not in self.errors:
                self.errors[name] = N_("This field is required.")
            return ""
        if forbidden_characters(value, allowed="\n\t"):
            self.errors[name] = N_("This field contains characters that are not allowed.")
        elif len(value) > max_len:
            self.errors[name] = N_("This field is too long.")
        return value

    def ids(self, name: str) -> list[int]:
        """Repeated checkboxes of ids (ASCII digits only)."""
        getall = getattr(self.data, "getall", None)
        values = getall(name, []) if getall else []
        if not all(isinstance(v, str) and v.isascii() and v.isdecimal() and len(v) <= 9 for v in values):
            self.errors[name] = N_("Choose one of the options.")
            return []
        return sorted({int(v) for v in values})


def _note_text(form: NoteForm) -> notes.NoteText:
    return notes.NoteText(**{name: form.paragraphs(name, max_len=notes.MAX_TEXT) for name in TEXT_FIELDS})


async def appointment_note(request: web.Request) -> web.Response:
    """After an appointment (or a call): open the worker's note for it, creating the draft the first time."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db = base.db(request)
    appointment = await booking.appointment_for(db, who, base.object_id(request), "note.open")
    citizen = await citizens.by_id(db, appointment.citizen_id)
    note = await notes.for_appointment(db, who, appointment, citizen, base.now(request))
    raise base.redirect(request, "note", id=note.id)


async def note_new(request: web.Request) -> web.Response:
    """A note on its own, not after an appointment (a phone call, a meeting with others)."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    db = base.db(request)
    citizen = await access.citizen_for(db, who, base.object_id(request), "note.create", audit.Purpose.SUPPORT)
    note = await notes.start(db, who, citizen, base.now(request))
    raise base.redirect(request, "note", id=note.id)


async def _page(
    request: web.Request, *, status: int = 200, errors: dict | None = None, typed: dict | None = None
) -> web.Response:
    """The note page: the open draft to write in (for its author), or the signed text, and every version."""
    who = base.actor(request)
    access.require_staff(who)
    db = base.db(request)
    note = await notes.note_for(db, who, base.object_id(request), "note.view")
    versions = await notes.versions(db, note)
    latest = versions[-1]
    touched = await notes.goals_of(db, [v.id for v in versions])
    editing = latest.status == NoteStatus.DRAFT and note.author_id == who.id
    people = {note.author_id} | {v.signed_by_id for v in versions if v.signed_by_id}
    authors = await organisation.staff_names(db, people)
    context = {
        "note": note,
        "versions": versions,
        "latest": latest,
        "touched": touched,
        "editing": editing,
        "citizen": await citizens.by_id(db, note.citizen_id),
        "authors": authors,
        "appointment": await appointments.by_id(db, note.appointment_id) if note.appointment_id else None,
        "goals": await goals.for_citizen(db, note.citizen_id, include_dropped=False) if editing else [],
        "values": typed or {name: getattr(latest, name) for name in TEXT_FIELDS},
        "chosen_goals": set(typed.get("goal_ids", [])) if typed else {g.id for g in touched[latest.id]},
        "errors": errors or {},
        "done": request.query.get("done", ""),
        "error_summary": i18n.gettext(InvalidInput.message) if errors else "",
    }
    return base.render(request, "notes/note.html", context, status=status)


async def show(request: web.Request) -> web.Response:
    return await _page(request)


def _typed(data) -> dict:
    typed = {name: data.get(name, "") for name in TEXT_FIELDS if isinstance(data.get(name, ""), str)}
    typed["goal_ids"] = [
        int(v) for v in data.getall("goal_ids", []) if isinstance(v, str) and v.isdecimal() and len(v) <= 9
    ]
    return typed


async def _save_from_form(request: web.Request, action: str):
    """Read the note form and save it into the open draft; returns the form data (for showing it again)."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    data = await base.form(request)
    form = NoteForm(data)
    text = _note_text(form)
    goal_ids = form.ids("goal_ids")
    shared = form.choice("shared", ("0", "1"))
    form.check()
    await notes.save_draft(
        base.db(request),
        who,
        base.object_id(request),
        text,
        base.now(request),
        goal_ids=goal_ids,
        shared=shared == "1",
        action=action,
    )
    return data


async def _refused(request: web.Request, exc: InvalidInput) -> web.Response:
    """The note page again with what was typed and a message per field (422)."""
    data = await base.form(request)
    errors = {name: i18n.gettext(message) for name, message in exc.errors.items()}
    return await _page(request, status=422, errors=errors, typed=_typed(data))


async def save(request: web.Request) -> web.Response:
    """Save the draft from the form (works without JavaScript)."""
    try:
        await _save_from_form(request, "note.save")
    except InvalidInput as exc:
        return await _refused(request, exc)
    raise base.redirect(request, "note", query={"done": "saved"}, id=base.object_id(request))


async def sign(request: web.Request) -> web.Response:
    """Save what is typed, then sign it: the version is final from now on."""
    try:
        await _save_from_form(request, "note.save")
        await notes.sign(base.db(request), base.actor(request), base.object_id(request), base.now(request))
    except InvalidInput as exc:
        return await _refused(request, exc)
    raise base.redirect(request, "note", query={"done": "signed"}, id=base.object_id(request))


async def amend(request: web.Request) -> web.Response:
    """Start an amendment of a signed note: a new draft version; the signed one stays as it is."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    form = Form(await base.form(request))
    reason = form.text("reason", max_len=300)
    try:
        form.check()
    except InvalidInput as exc:
        errors = {name: i18n.gettext(message) for name, message in exc.errors.items()}
        return await _page(request, status=422, errors=errors)
    await notes.amend(base.db(request), who, base.object_id(request), form.checked(reason), base.now(request))
    raise base.redirect(request, "note", query={"done": "amending"}, id=base.object_id(request))


async def api_draft(request: web.Request) -> web.Response:
    """Autosave (JSON, X-CSRF-Token header): the draft's text as typed so far; nothing is lost if the tab closes."""
    who = base.actor(request)
    access.require_role(who, StaffRole.WORKER)
    data = await api.read_body(request, NoteDraft, MAX_NOTE_DRAFT_JSON)
    text = notes.NoteText(**{name: getattr(data, name).replace("\r\n", "\n").strip() for name in TEXT_FIELDS})
    version = await notes.save_draft(
        base.db(request), who, base.object_id(request), text, base.now(request), action="note.autosave"
    )
    return api.reply(NoteDraftSaved(version=version.number, saved_at=version.updated_at))
