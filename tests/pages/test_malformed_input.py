"""Malformed input on every form gets a 4xx a person can read — the form again with a message at the field,
or the error page — never a server error, and nothing is written.

The only rows a refused form may add are the traces of a failed login: an "auth.login" audit entry with the
outcome "denied" and the failure counted for throttling (login, login code and enrolment forms).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass

import pyotp
import pytest
from aiohttp import FormData
from sqlalchemy import select

from vbostotte.identity import login, organisation
from vbostotte.models import AuditEntry, Staff

from support import PASSWORD, WebClient, read_in_english, row_counts, text_of

REQUIRED = "This field is required."
TOO_LONG = "This field is too long."
NOT_ALLOWED = "This field contains characters that are not allowed."
CHOOSE = "Choose one of the options."
NOT_VALID = "This field is not valid."
SHORT_PASSWORD = "The password must be at least 12 characters."
BAD_EMAIL = "Enter a valid e-mail address."
BAD_PHONE = "Enter a valid phone number."
LOGIN_REFUSED = ("The e-mail, password or code is not correct.", "Too many attempts.")  # 401, or 429 once throttled
NOT_UNDERSTOOD = "The request could not be understood."
TOO_LARGE = "What you sent is too large."
NOT_FOUND = "The page was not found."
BAD_DATE = "Enter a date like 2026-12-01."
BAD_TIME = "Enter a time like 10:30."
END_BEFORE_START = "The end must be after the start."

MISSING, REPEATED, FILE = object(), object(), object()  # not values: ways of sending a field wrongly
LONG = "x" * 10_000
CONTROL = "Nina\x00Holm\x1b[2J\x7f"


def bad(
    *extra: tuple[str, object, str], missing: str | None = None, long: str = TOO_LONG, control: str = NOT_ALLOWED
) -> list[tuple[str, object, str]]:
    """The malformed values for one kind of field: (case, value, the message a person then reads)."""
    cases = [("missing", MISSING, missing), ("empty", "", missing), ("blank", "   ", missing)] if missing else []
    return cases + [
        ("10k characters", LONG, long),
        ("control characters", CONTROL, control),
        ("repeated", REPEATED, NOT_VALID),
        ("a file", FILE, NOT_VALID),
        *extra,
    ]


NOT_A_NUMBER = [
    (case, value, CHOOSE)
    for case, value in (
        ("letters", "abc"),
        ("negative", "-1"),
        ("decimal", "1.5"),
        ("superscript", "²"),
        ("arabic-indic", "٣"),
        ("beyond INTEGER", "99999999999"),
    )
]
KINDS = {
    "text": bad(missing=REQUIRED),
    "optional text": bad(),
    "date": bad(
        ("not a date", "1/12/2026", BAD_DATE),
        ("impossible", "2026-02-30", BAD_DATE),
        missing=REQUIRED,
        long=BAD_DATE,
        control=BAD_DATE,
    ),
    "time": bad(
        ("not a time", "half past ten", BAD_TIME),
        ("25 o'clock", "25:00", BAD_TIME),
        missing=REQUIRED,
        long=BAD_TIME,
        control=BAD_TIME,
    ),
    "optional time": bad(
        ("not a time", "half past ten", BAD_TIME), ("25 o'clock", "25:00", BAD_TIME), long=BAD_TIME, control=BAD_TIME
    ),
    "email": bad(("not an address", "nina(at)example.dk", BAD_EMAIL), missing=REQUIRED),
    "optional email": bad(("not an address", "nina(at)example.dk", BAD_EMAIL)),
    "optional phone": bad(("not a number", "call me", BAD_PHONE)),
    "optional date": bad(
        ("not a date", "1/12/2026", BAD_DATE), ("impossible", "2026-02-30", BAD_DATE), long=BAD_DATE, control=BAD_DATE
    ),
    "choice": bad(("not a choice", "klingon", CHOOSE), missing=CHOOSE, long=CHOOSE, control=CHOOSE),
    "number": bad(*NOT_A_NUMBER, missing=REQUIRED, long=CHOOSE, control=CHOOSE),
    "optional number": bad(*NOT_A_NUMBER, long=CHOOSE, control=CHOOSE),
    # Any character may be in a password; only its length is checked.
    "password": [
        (case, value, message) for case, value, message in bad(missing=SHORT_PASSWORD) if case != "control characters"
    ]
    + [("short", "2short", SHORT_PASSWORD)],
    # Login steps never say which field was wrong (no user enumeration).
    "login": [(case, value, LOGIN_REFUSED) for case, value, _ in bad(missing="-")],
}


@dataclass(frozen=True)
class Form:
    who: str | None  # who fills it in: None (anonymous), "pending" (password given), "enrolling", a role
    path: str
    fields: dict[str, tuple[str, str]]  # name -> (kind, a valid value)
    page: str  # where the form (and its CSRF token) comes from
    re_rendered: bool = False  # refused input shows the form again (else the error page)

    @property
    def is_login_step(self) -> bool:
        return any(kind == "login" for kind, _ in self.fields.values())


FORMS = {
    "login": Form(
        None,
        "/login",
        {"email": ("login", "{worker_email}"), "password": ("login", PASSWORD)},
        "/login",
        re_rendered=True,
    ),
    "login code": Form("pending", "/login/code", {"code": ("login", "{code}")}, "/login/code", re_rendered=True),
    "enrolment": Form("enrolling", "/login/enrol", {"code": ("login", "{code}")}, "/login/enrol", re_rendered=True),
    "language": Form(None, "/language", {"locale": ("choice", "en")}, "/login"),
    "new citizen": Form(
        "worker",
        "/citizens/new",
        {
            "name": ("text", "Nina Holm"),
            "preferred_name": ("text", "Nina"),
            "phone": ("optional phone", "+45 20 00 00 09"),
            "email": ("optional email", "nina@example.dk"),
            "locale": ("choice", "da"),
            "team_id": ("optional number", "{team}"),
        },
        "/citizens/new",
        re_rendered=True,
    ),
    "new staff member": Form(
        "admin",
        "/admin/staff/new",
        {
            "name": ("text", "Nils Berg"),
            "email": ("email", "nils@aarhus.example.dk"),
            "role": ("choice", "worker"),
            "password": ("password", "a long first password"),
        },
        "/admin/staff/new",
        re_rendered=True,
    ),
    "new team": Form("admin", "/admin/teams", {"name": ("text", "Team Nord")}, "/admin"),
    "team member": Form("admin", "/admin/teams/{team}/members", {"staff_id": ("number", "{supervisor}")}, "/admin"),
    "staff active": Form("admin", "/admin/staff/{worker}/active", {"active": ("choice", "0")}, "/admin"),
    "assign to worker": Form(
        "supervisor", "/citizens/{citizen}/assign", {"worker_id": ("number", "{other_worker}")}, "/supervisor"
    ),
    "travel minutes": Form(
        "supervisor", "/supervisor/teams/{team}/travel", {"minutes": ("number", "40")}, "/supervisor/statistics"
    ),
    "issue link": Form("worker", "/citizens/{citizen}/link", {}, "/worker"),
    "revoke link": Form("worker", "/citizens/{citizen}/link/revoke", {}, "/worker"),
    "book": Form(
        "worker",
        "/appointments/new",
        {
            "citizen_id": ("number", "{citizen}"),
            "kind": ("choice", "video"),
            "date": ("date", "2026-12-01"),
            "time": ("time", "10:00"),
            "duration": ("choice", "45"),
            "note_to_citizen": ("optional text", "Plan"),
            "interpreter_name": ("optional text", "Tina Tolk"),
            "interpreter_language": ("optional text", "arabisk"),
            "interpreter_email": ("optional email", "tina@tolke.example.dk"),
            "interpreter_phone": ("optional phone", "+45 30 00 00 00"),
            "idempotency_key": ("optional text", "k-1"),
        },
        "/appointments/new",
        re_rendered=True,
    ),
    "working hours": Form(
        "worker",
        "/worker/hours",
        {"work_0_start": ("optional time", "08:00"), "work_0_end": ("optional time", "16:00")},
        "/worker/hours",
        re_rendered=True,
    ),
    "cancel appointment": Form(
        "worker", "/appointments/{appointment}/cancel", {"reason": ("text", "Sick")}, "/worker", re_rendered=True
    ),
    "move appointment": Form(
        "worker",
        "/appointments/{appointment}/reschedule",
        {
            "date": ("date", "2026-11-30"),
            "time": ("time", "10:00"),
            "duration": ("choice", "45"),
            "reason": ("text", "Moved"),
        },
        "/worker",
        re_rendered=True,
    ),
    "attendance": Form(
        "worker",
        "/appointments/{past_appointment}/attendance",
        {"attendance": ("choice", "attended")},
        "/worker",
        re_rendered=True,
    ),
    "release interpreter": Form("worker", "/appointments/{appointment}/release-interpreter", {}, "/worker"),
    "record consent": Form(
        "worker",
        "/citizens/{citizen}/consents",
        {"kind": ("choice", "sms_reminders"), "action": ("choice", "withdraw"), "how": ("choice", "phone")},
        "/worker",
    ),
    "citizen's consent": Form(
        "citizen", "/me/consents", {"kind": ("choice", "video"), "action": ("choice", "withdraw")}, "/me/consents"
    ),
    "new consent kind": Form(
        "admin",
        "/admin/consents",
        {
            "code": ("text", "photos"),
            "title_da": ("text", "Billeder"),
            "text_da": ("text", "Jeg siger ja til billeder."),
            "title_en": ("text", "Photos"),
            "text_en": ("text", "I agree to photos."),
        },
        "/admin/consents",
        re_rendered=True,
    ),
    "consent text": Form(
        "admin",
        "/admin/consents/{consent_kind}",
        {
            "title_da": ("text", "Video"),
            "text_da": ("text", "Ny tekst."),
            "title_en": ("text", "Video"),
            "text_en": ("text", "New text."),
        },
        "/admin/consents",
        re_rendered=True,
    ),
    "booking settings": Form(
        "admin",
        "/admin/settings",
        {"cutoff": ("number", "3"), "crisis_line_text": ("optional text", "Ring 1813")},
        "/admin/settings",
        re_rendered=True,
    ),
    "absence": Form(
        "worker",
        "/worker/absences",
        {"first_day": ("date", "2026-12-07"), "last_day": ("date", "2026-12-08"), "reason": ("choice", "holiday")},
        "/worker/absences",
        re_rendered=True,
    ),
    "remove absence": Form("worker", "/worker/absences/{absence}/remove", {}, "/worker/absences"),
    "call privacy": Form("worker", "/citizens/{citizen}/call-privacy", {"relay": ("choice", "1")}, "/worker"),
    "call ticket": Form("worker", "/calls/{appointment}/ticket", {}, "/worker"),
    "guest link": Form(
        "worker",
        "/calls/{appointment}/guests",
        {"kind": ("choice", "relative"), "name": ("text", "Bo Holm")},
        "/worker",
    ),
    "stop guest link": Form(
        "worker", "/calls/{appointment}/guests/revoke", {"kind": ("choice", "relative")}, "/worker"
    ),
    "API key": Form(
        "worker",
        "/account/api-keys",
        {"label": ("text", "Case system"), "days": ("choice", "90")},
        "/account/api-keys",
        re_rendered=True,
    ),
    "citizen's answer": Form(
        "citizen", "/me/appointments/{appointment}/respond", {"response": ("choice", "confirmed")}, "/me"
    ),
    "check-in": Form(
        "citizen", "/me/checkins", {"level": ("choice", "3"), "words": ("optional text", "Fint")}, "/me/wellbeing"
    ),
    "day task": Form(
        "citizen", "/me/day-plan", {"title": ("text", "Drik vand"), "remind_at": ("optional time", "20:00")}, "/me/day"
    ),
    "day task done": Form("citizen", "/me/day-plan/{day_task}/done", {"done": ("choice", "1")}, "/me/day"),
    "remove day task": Form("citizen", "/me/day-plan/{day_task}/remove", {}, "/me/day"),
    "day grade": Form("citizen", "/me/day-plan/grade", {"grade": ("choice", "4")}, "/me/day"),
    "worker's day task": Form(
        "worker",
        "/citizens/{citizen}/day-plan",
        {"title": ("text", "Køb ind"), "remind_at": ("optional time", "20:00")},
        "/worker",
    ),
    "check-ins followed up": Form("worker", "/citizens/{citizen}/checkins/followed-up", {}, "/worker"),
    "new note": Form("worker", "/citizens/{citizen}/notes", {}, "/worker"),
    "note": Form(
        "worker",
        "/notes/{note}",
        {
            "talked_about": ("optional text", "Vi talte om ugen"),
            "agreements": ("optional text", "Handle ind"),
            "assessment": ("optional text", "Går godt"),
            "shared": ("choice", "0"),
        },
        "/worker",
        re_rendered=True,
    ),
    "sign note": Form(
        "worker",
        "/notes/{note}/sign",
        {
            "talked_about": ("optional text", "Vi talte om ugen"),
            "agreements": ("optional text", "Handle ind"),
            "assessment": ("optional text", "Går godt"),
            "shared": ("choice", "1"),
        },
        "/worker",
        re_rendered=True,
    ),
    "amend note": Form(
        "worker", "/notes/{signed_note}/amend", {"reason": ("text", "Rettelse")}, "/worker", re_rendered=True
    ),
    "new goal": Form(
        "worker",
        "/citizens/{citizen}/goals",
        {
            "title": ("text", "Handle ind selv"),
            "target_date": ("optional date", "2026-12-24"),
            "steps": ("optional text", "Skriv en liste"),
        },
        "/worker",
    ),
    "goal": Form(
        "worker",
        "/goals/{goal}",
        {
            "title": ("text", "Gå en tur"),
            "target_date": ("optional date", "2026-12-24"),
            "status": ("choice", "under_way"),
        },
        "/worker",
        re_rendered=True,
    ),
    "new step": Form(
        "worker", "/goals/{goal}/steps", {"text": ("text", "Gå til bageren")}, "/worker", re_rendered=True
    ),
    "tick step": Form("worker", "/goals/steps/{step}/tick", {"done": ("choice", "1")}, "/worker"),
    "citizen ticks a step": Form("citizen", "/me/steps/{step}/tick", {"done": ("choice", "1")}, "/me/goals"),
}


@pytest.fixture(autouse=True)
def english(web):
    read_in_english(web)


async def open_form(web: WebClient, world, db, form: Form) -> tuple[str, dict[str, str]]:
    """Sign in as the form's user and open its page: the form's path and the values to fill in placeholders."""
    worker = world.a.worker
    if form.who == "enrolling":
        (await db.get(Staff, worker.id)).totp_secret = None
        await db.commit()
    if form.who in ("pending", "enrolling"):
        await web.post("/login", {"email": worker.email, "password": PASSWORD})
    elif form.who == "citizen":
        await web.open_link(world.a.citizen.link_token)
    elif form.who:
        await web.login(getattr(world.a, form.who))
    page = await web.page(form.page)
    secret = worker.totp_secret
    if form.who == "enrolling":  # the new secret, as the page shows it next to the QR code
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    values = {
        "worker_email": worker.email,
        "team": world.a.team_id,
        "worker": worker.id,
        "supervisor": world.a.supervisor.id,
        "other_worker": world.a.other_worker.id,
        "citizen": world.a.citizen.id,
        "code": pyotp.TOTP(secret).at(web.clock()),
        "appointment": world.a.citizen.appointment_id,
        "past_appointment": world.a.citizen.past_appointment_id,
        "absence": world.a.absence_id,
        "day_task": world.a.day_task_id,
        "consent_kind": world.a.consent_kind_id,
        "note": world.a.note_id,
        "signed_note": world.a.signed_note_id,
        "goal": world.a.goal_id,
        "step": world.a.step_id,
    }
    return form.path.format(**values), {key: str(value) for key, value in values.items()}


async def written_since(db, before: dict[str, int], form: Form) -> list[str]:
    """What a refused request wrote, beyond the traces a failed login step is meant to leave."""
    after = await row_counts(db)
    changed = {name for name in after if after[name] != before[name]}
    if form.is_login_step:
        changed -= {"login_failures", "audit_entries"}
        entries = (
            await db.execute(
                select(AuditEntry.action, AuditEntry.outcome).where(  # ids run 1, 2, … (a chain)
                    AuditEntry.id > before["audit_entries"]
                )
            )
        ).all()
        changed |= {
            f"audit: {action} {outcome}" for action, outcome in entries if (action, outcome) != ("auth.login", "denied")
        }
    return sorted(changed)


def body_with(form: Form, values: dict[str, str], token: str, name: str, value: object):
    """The form as a browser would send it, with ``name`` sent as ``value`` (or missing, repeated, a file)."""
    fields = [("csrf_token", token)] + [(n, v.format(**values)) for n, (_, v) in form.fields.items() if n != name]
    valid = form.fields[name][1].format(**values)
    if value is FILE:
        data = FormData(fields)
        data.add_field(name, io.BytesIO(b"%PDF-1.4 not text"), filename="note.pdf", content_type="application/pdf")
        return data
    if value is REPEATED:
        return fields + [(name, valid), (name, valid)]
    return fields if value is MISSING else fields + [(name, value)]


def readable(status: int, body: str, message: str | tuple[str, ...], form: Form, path: str) -> list[str]:
    """What is wrong with a refusal, from a person's point of view (nothing, ideally)."""
    problems = []
    if not 400 <= status < 500:
        problems.append(f"status {status}")
    messages = (message,) if isinstance(message, str) else message
    if not any(m in text_of(body) for m in messages):
        problems.append(f"no {messages[0]!r} in {text_of(body)[:200]!r}")
    if form.re_rendered and status in (401, 422) and f'action="{path}"' not in body:
        problems.append("the form is not shown again")
    return problems


@pytest.mark.parametrize("name", [name for name, form in FORMS.items() if form.fields])
async def test_every_malformed_field_is_refused_with_a_message_and_nothing_is_written(web, world, db, name):
    form = FORMS[name]
    path, values = await open_form(web, world, db, form)
    token = await web.csrf_from(form.page)
    problems = []
    for field, (kind, _) in form.fields.items():
        for case, value, message in KINDS[kind]:
            before = await row_counts(db)
            response = await web.client.post(
                path, data=body_with(form, values, token, field, value), allow_redirects=False
            )
            trouble = readable(response.status, await response.text(), message, form, path)
            trouble += [f"wrote {table}" for table in await written_since(db, before, form)]
            problems += [f"{field} {case}: {t}" for t in trouble]
    assert problems == []


@pytest.mark.parametrize("name", list(FORMS))
async def test_a_body_that_is_no_form_is_refused_and_nothing_is_written(web, world, db, name):
    form = FORMS[name]
    path, values = await open_form(web, world, db, form)
    token = await web.csrf_from(form.page)
    urlencoded = {"Content-Type": "application/x-www-form-urlencoded"}
    in_header = {"X-CSRF-Token": token}
    valid = {n: v.format(**values) for n, (_, v) in form.fields.items()}
    sent = {
        "over 256 KiB": (dict(data={"csrf_token": token, **valid, "padding": "x" * 300_000}), 413, TOO_LARGE),
        "invalid UTF-8": (
            dict(data=f"csrf_token={token}&name=Nina%20".encode() + b"\xff\xfeHolm", headers=urlencoded),
            400,
            NOT_UNDERSTOOD,
        ),
        "invalid UTF-8, token in header": (
            dict(data=b"name=\xc3\x28", headers={**urlencoded, **in_header}),
            400,
            NOT_UNDERSTOOD,
        ),
        "unknown charset": (
            dict(
                data=f"csrf_token={token}".encode(),
                headers={"Content-Type": "application/x-www-form-urlencoded; charset=klingon"},
            ),
            400,
            NOT_UNDERSTOOD,
        ),
        "broken multipart": (
            dict(
                data=b"--zzz\r\nno headers, no end",
                headers={"Content-Type": "multipart/form-data; boundary=zzz", **in_header},
            ),
            400,
            NOT_UNDERSTOOD,
        ),
        "multipart without boundary": (
            dict(data=b"--zzz--\r\n", headers={"Content-Type": "multipart/form-data", **in_header}),
            400,
            NOT_UNDERSTOOD,
        ),
        "JSON": (
            dict(
                data=json.dumps({"csrf_token": token, **valid}),
                headers={"Content-Type": "application/json", **in_header},
            ),
            415,
            NOT_UNDERSTOOD,
        ),
    }
    if "{" in form.path:  # an id that is no id: the page does not exist
        for bad_id in ("abc", "-1", "1.0", "0x1f", "٣", "99999999999", "9" * 40):
            sent[f"id {bad_id}"] = (
                dict(
                    data={"csrf_token": token, **valid},
                    url=form.path.replace(form.path[form.path.index("{") : form.path.index("}") + 1], bad_id),
                ),
                404,
                NOT_FOUND,
            )
    problems = []
    for case, (request, status, message) in sent.items():
        before = await row_counts(db)
        response = await web.client.post(request.pop("url", path), allow_redirects=False, **request)
        body = await response.text()
        if response.status != status:
            problems.append(f"{case}: status {response.status}, expected {status}")
        problems += [f"{case}: {t}" for t in readable(response.status, body, message, form, path)]
        problems += [f"{case}: wrote {table}" for table in await written_since(db, before, form)]
    assert problems == []


async def test_a_password_is_used_exactly_as_it_was_typed(web, other_web, world, monkeypatch):
    """The account form keeps spaces and any character in a password; the login form must read it the same way."""
    monkeypatch.setattr(organisation, "hash_password", login.hash_password)  # the world's shortcut, undone
    read_in_english(other_web)
    await web.login(world.a.admin)
    password = "  two spaces, a tab\tand æøå  "
    created = await web.post(
        "/admin/staff/new",
        {"name": "Nils Berg", "email": "nils@aarhus.example.dk", "role": "worker", "password": password},
    )
    assert created.status == 303
    signed_in = await other_web.post("/login", {"email": "nils@aarhus.example.dk", "password": password})
    assert signed_in.status == 303 and signed_in.headers["Location"] == "/login/enrol"
    trimmed = await other_web.post("/login", {"email": "nils@aarhus.example.dk", "password": password.strip()})
    assert trimmed.status == 401
