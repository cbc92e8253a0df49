"""Hostile input never gets a server error: every route in the app's route table (GET and POST, forms and JSON,
path and query parameters), as each role, with the values that once gave 500s — dates at the calendar's limits
(0001-01-01, 9999-12-31; with a time zone that tips them over), a booking in the year 5753, a lone surrogate (no
database stores it), JSON nested 5,000 deep, numbers far beyond any column. Every answer must be below 500.

Runs on SQLite, and on PostgreSQL with VB_TEST_DATABASE_URL. Requests go out a few at a time (the app serialises
SQLite's writers itself), each with a session made directly in the database (no login round trips), so the sweep of
some thousands of requests stays well under a minute.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
from collections import Counter
from collections.abc import Iterator
from urllib.parse import quote

import pyotp
import pytest
from aiohttp import ClientError, ClientResponse, DummyCookieJar

from vbostotte import db as database
from vbostotte.identity import sessions
from vbostotte.web import security
from vbostotte.web.keys import SETTINGS

from pages.test_malformed_input import FORMS
from support import WebClient

SURROGATE = "\ud800"
DATES = ("0001-01-01", "9999-12-31", "5753-06-01")
INSTANTS = ("0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00", "5753-06-01T10:00:00+01:00", "9999-12-31T23:30")
TEXTS = (SURROGATE, "-1", "99999999999999999999", "1e400", "x" * 200)
HOSTILE = (*DATES, *INSTANTS, *TEXTS)
# In a query string: the dates, a datetime where a date belongs, and what no number or text field takes.
QUERY_HOSTILE = ("0001-01-01", "9999-12-31", "9999-12-31T23:30", SURROGATE, "99999999999999999999")
# In a form field: the same, a booking in the year 5753, and an over-long text.
FORM_HOSTILE = (*QUERY_HOSTILE, "5753-06-01", "x" * 200)
JSON_HOSTILE: tuple[object, ...] = (*HOSTILE, 10**30, -(2**63), 1e308, True, [], {"a": {"b": [1]}})
DEEP_JSON = "[" * 5000 + "]" * 5000
DEEP_OBJECT = '{"a":' * 5000 + "1" + "}" * 5000
# The query names the views read (request.query.get, Form(request.query)); the sweep adds what it finds in the source.
QUERY_NAMES = {"from", "to", "day", "week", "days", "duration_minutes", "citizen_id", "period", "format", "action"}
ROLES = ("anonymous", "citizen", "worker", "supervisor", "admin")
HOSTILE_IDS = ("0", "999999999999")  # no such row; beyond INTEGER (the route's pattern allows 12 digits)
HOSTILE_TOKENS = ("A" * 100, "-" * 20)
# Which world object a route's {id} names, by the path's start (the most specific first).
ID_OF = (
    ("/me/appointments/", "appointment"),
    ("/me/steps/", "step"),
    ("/me/day-plan/", "day_task"),
    ("/goals/steps/", "step"),
    ("/goals/", "goal"),
    ("/notes/", "note"),
    ("/api/v1/notes/", "note"),
    ("/citizens/", "citizen"),
    ("/appointments/", "appointment"),
    ("/api/v1/appointments/", "appointment"),
    ("/supervisor/appointments/", "appointment"),
    ("/calls/", "appointment"),
    ("/worker/absences/", "absence"),
    ("/admin/staff/", "other_worker"),
    ("/admin/teams/", "team"),
    ("/supervisor/teams/", "team"),
    ("/admin/consents/", "consent_kind"),
    ("/account/api-keys/", "api_token"),
)
SKIPPED = ("/static/", "/ws/", "/logout")  # files; the call socket (tests/realtime); logging out ends the session
JSON_BODIES = {  # the API's JSON requests, valid (for the world of municipality a); each field is made hostile
    "/api/v1/appointments": lambda ids: {
        "citizen_id": int(ids["citizen"]),
        "kind": "video",
        "starts_at": "2026-12-01T10:00:00+01:00",
        "duration_minutes": 45,
        "note_to_citizen": "Plan",
        "interpreter": {"name": "Tina Tolk", "language": "arabisk", "email": "tina@tolke.example.dk"},
    },
    "/api/v1/appointments/{id}/cancel": lambda ids: {"reason": "Syg"},
    "/api/v1/notes/{id}/draft": lambda ids: {"talked_about": "Ugen", "agreements": "Handle ind", "assessment": "Fint"},
    "/api/v1/connection-test/offer": lambda ids: {"sdp": "v=0"},
}


def query_names_in_source() -> set[str]:
    """Every query parameter name the views read, found in the source (so a new one is swept without a change here)."""
    from pathlib import Path

    import vbostotte

    names = set(QUERY_NAMES)
    for path in Path(vbostotte.__file__).parent.rglob("*.py"):
        source = path.read_text()
        names |= set(re.findall(r"query\.get\(\"(\w+)\"", source))
        names |= set(re.findall(r"\"(\w+)\" in request\.query", source))
        if "Form(request.query)" in source:
            names |= set(re.findall(r"form\.\w+\(\"(\w+)\"", source))
    return names


class Sweep:
    """Sends the requests (a few at a time), with each role's session cookie and CSRF token, and keeps the 5xx."""

    def __init__(self, client, cookies: dict[str, str], tokens: dict[str, str], origin: str, renew) -> None:
        self.client, self.cookies, self.tokens, self.origin = client, cookies, tokens, origin
        self._renew = renew
        self.sent = 0
        self.statuses: Counter[int] = Counter()
        self.server_errors: list[str] = []
        self._gate = asyncio.Semaphore(6)

    async def send(self, role: str, method: str, path: str, *, body: bytes | None = None, kind: str = "") -> int:
        headers = {"Cookie": self.cookies[role], "Origin": self.origin, security.CSRF_HEADER: self.tokens[role]}
        if kind:
            headers["Content-Type"] = kind
        async with self._gate:
            try:
                response = await self.client.request(method, path, data=body, headers=headers, allow_redirects=False)
                await response.read()
            except ClientError as exc:  # a dropped connection is no better than a 500
                self.server_errors.append(f"{type(exc).__name__} {role} {method} {path[:160]} {(body or b'')[:160]!r}")
                return 599
        self.sent += 1
        self.statuses[response.status] += 1
        if response.status >= 500:
            self.server_errors.append(f"{response.status} {role} {method} {path[:160]} {(body or b'')[:160]!r}")
        return response.status

    async def new_sessions(self) -> None:
        await self._renew(self)

    async def all(self, requests, *, one_by_one: bool = False) -> None:
        if one_by_one:
            for args, kw in requests:
                await self.send(*args, **kw)
            return
        await asyncio.gather(*(self.send(*args, **kw) for args, kw in requests))


def encoded(value: str) -> str:
    """A value for a URL or form body; a lone surrogate as the UTF-8 bytes a client would (wrongly) send."""
    return quote(value.encode("utf-8", "surrogatepass"), safe="")


def form_body(fields: dict[str, str]) -> bytes:
    return "&".join(f"{encoded(k)}={encoded(v)}" for k, v in fields.items()).encode()


def routes(app) -> Iterator[tuple[str, str]]:
    """(method, canonical path) of every route in the app's table; '*' routes as GET and POST."""
    seen = set()
    for route in app.router.routes():
        resource = route.resource
        if resource is None or resource.canonical.startswith(SKIPPED) or route.method == "HEAD":
            continue
        for method in ("GET", "POST") if route.method == "*" else (route.method,):
            if (method, resource.canonical) not in seen:
                seen.add((method, resource.canonical))
                yield method, resource.canonical


def concrete(canonical: str, ids: dict[str, str], link_token: str) -> str:
    """The route's path for the world's own objects."""
    path = re.sub(r"\{token(:[^}]+)?\}", link_token, canonical)
    if "{id" in path:
        owner = next((name for prefix, name in ID_OF if canonical.startswith(prefix)), None)
        path = re.sub(r"\{id(:[^}]+)?\}", ids[owner] if owner else "1", path)  # a route newer than ID_OF: id 1
    return path


def with_hostile_params(canonical: str) -> list[str]:
    paths = []
    if "{id" in canonical:
        paths += [re.sub(r"\{id(:[^}]+)?\}", value, canonical) for value in HOSTILE_IDS]
    if "{token" in canonical:
        paths += [re.sub(r"\{token(:[^}]+)?\}", value, canonical) for value in HOSTILE_TOKENS]
    return paths


def query_variants(names: set[str], value: str) -> list[dict[str, str]]:
    """The value in every parameter at once; in the dates and numbers with valid choices beside them (period,
    format); in one end of a valid range."""
    every = dict.fromkeys(names, value)
    valued = {"from": value, "to": value, "day": value, "week": value, "days": value, "duration_minutes": value}
    choices = [{"period": "custom"}, {"period": "custom", "format": "csv"}]
    return [every, *({**valued, **extra} for extra in choices), {"period": "custom", "from": "2026-11-01", "to": value}]


@pytest.fixture
async def sweep(aiohttp_client, app, world, engine, settings, clock) -> Sweep:
    """A cookie-less client (the sweep sets each request's cookies) and a session for every role."""
    # Plain aiohttp responses: the sweep asks only for "no 5xx"; whether every refusal of garbage is in the OpenAPI
    # document is tests/pages/test_api_contract.py's question (schemathesis), not this one's.
    client = await aiohttp_client(app, cookie_jar=DummyCookieJar(), response_class=ClientResponse)
    anonymous = "a" * 32

    def token_for(binding: str) -> str:
        return hmac.new(app[SETTINGS].secret_key.encode(), binding.encode(), hashlib.sha256).hexdigest()

    async def new_sessions(sweep: Sweep) -> None:
        """A fresh session for every role (a hostile request may have ended one: a login form, a deactivation)."""
        async with database.sessionmaker(engine)() as db, db.begin():
            own = {"citizen": await sessions.start_citizen_session(db, world.a.citizen.id, None, settings, clock())}
            for role in ("worker", "supervisor", "admin"):
                staff = getattr(world.a, role)
                own[role] = await sessions.start_staff_session(db, staff.id, settings, clock(), mfa_passed=True)
            own["pending"] = await sessions.start_staff_session(
                db, world.a.other_worker.id, settings, clock(), mfa_passed=False
            )
        for role, token in own.items():
            sweep.cookies[role] = f"{sessions.COOKIE}={token}; {security.CSRF_COOKIE}={anonymous}"
            sweep.tokens[role] = token_for("s:" + token)

    cookies = {"anonymous": f"{security.CSRF_COOKIE}={anonymous}"}
    tokens = {"anonymous": token_for("a:" + anonymous)}
    sweep = Sweep(client, cookies, tokens, WebClient(client, clock).origin, new_sessions)
    await sweep.new_sessions()
    return sweep


def world_ids(world) -> dict[str, str]:
    a = world.a
    ids = {
        "team": a.team_id,
        "worker": a.worker.id,
        "supervisor": a.supervisor.id,
        "other_worker": a.other_worker.id,
        "citizen": a.citizen.id,
        "appointment": a.citizen.appointment_id,
        "past_appointment": a.citizen.past_appointment_id,
        "absence": a.absence_id,
        "day_task": a.day_task_id,
        "consent_kind": a.consent_kind_id,
        "note": a.note_id,
        "signed_note": a.signed_note_id,
        "goal": a.goal_id,
        "step": a.step_id,
        "api_token": a.api_token_id,
    }
    return {key: str(value) for key, value in ids.items()}


async def test_no_route_answers_hostile_input_with_a_server_error(sweep, app, world):
    ids = world_ids(world)
    link = world.a.citizen.link_token
    names = query_names_in_source()
    table = list(routes(app))
    # Forms with a valid value for every field (FORMS) are also swept field by field (part 2), the JSON API's
    # requests too (part 3); every other route gets the hostile bodies of part 1 only.
    field_by_field = {re.sub(r"\{\w+\}", "{id}", form.path) for form in FORMS.values()} | set(JSON_BODIES)
    only_part_1 = sorted(path for method, path in table if method == "POST" and path not in field_by_field)

    # 1. Every route, every role: hostile path parameters, hostile query parameters, hostile bodies of each kind.
    for method, canonical in table:
        await sweep.new_sessions()
        own_path = concrete(canonical, ids, link)
        # The query sweep as each role the page answers (a role it turns away never reads the query).
        readers = {role for role in ROLES if method == "GET" and await sweep.send(role, "GET", own_path) < 300}
        requests = []
        for role in ROLES:
            for path in with_hostile_params(canonical):
                requests.append(((role, method, path), {}))
            if method == "GET":
                if role in readers:
                    for value in QUERY_HOSTILE:
                        for query in query_variants(names, value):
                            requests.append(((role, method, f"{own_path}?{form_body(query).decode()}"), {}))
            else:
                bodies = [
                    (form_body(dict.fromkeys(names, "9999-12-31")), "application/x-www-form-urlencoded"),
                    (b"\xed\xa0\x80", "application/x-www-form-urlencoded"),
                ]
                if role == "worker":  # JSON is read only by the API (a worker's); elsewhere refused before any role
                    bodies += [(DEEP_JSON.encode(), "application/json"), (DEEP_OBJECT.encode(), "application/json")]
                for body, kind in bodies:
                    requests.append(((role, method, own_path), {"body": body, "kind": kind}))
        await sweep.all(requests)

    # 2. Every form, as the one who fills it in: each field in turn hostile, the others valid.
    values = {**ids, "worker_email": world.a.worker.email}
    for form in FORMS.values():
        await sweep.new_sessions()
        role = {"pending": "pending", "enrolling": "pending", None: "anonymous"}.get(form.who, form.who)
        values["code"] = pyotp.TOTP(world.a.other_worker.totp_secret).now()
        path = form.path.format(**values)
        valid = {name: value.format(**values) for name, (_kind, value) in form.fields.items()}
        requests = [
            (
                (role, "POST", path),
                {"body": form_body({**valid, name: value}), "kind": "application/x-www-form-urlencoded"},
            )
            for name in form.fields
            for value in FORM_HOSTILE
        ]
        # Login steps one at a time: concurrent attempts on one account queue on its throttling row while a password
        # hash is checked, and on a busy machine PostgreSQL's statement limit may end the wait with a 503.
        await sweep.all(requests, one_by_one=form.is_login_step)

    # 3. The JSON API, as a worker: each field in turn hostile (the interpreter's too), the others valid.
    for canonical, make in JSON_BODIES.items():
        await sweep.new_sessions()
        path = canonical.replace("{id}", ids["note"] if "/notes/" in canonical else ids["appointment"])
        valid = make(ids)
        variants = [{**valid, name: value} for name in valid for value in JSON_HOSTILE]
        if "interpreter" in valid:
            variants += [{**valid, "interpreter": {**valid["interpreter"], "name": v}} for v in JSON_HOSTILE]
        requests = [
            (("worker", "POST", path), {"body": json.dumps(v).encode(), "kind": "application/json"}) for v in variants
        ]
        await sweep.all(requests)

    print(
        f"\nhostile input sweep: {sweep.sent} requests over {len(table)} routes ({len(only_part_1)} posted without a "
        f"field-by-field form: {only_part_1}), {len(sweep.server_errors)} >= 500; by status: {sorted(sweep.statuses.items())}"
    )
    assert not sweep.server_errors, "\n".join(sweep.server_errors[:40])
