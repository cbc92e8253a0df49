"""The JSON API: documented (a valid OpenAPI 3.1 document), idempotent, race-safe, validated and
authorised like the pages."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from openapi_spec_validator import validate as validate_openapi
from sqlalchemy import func, select

from vbostotte.models import Appointment, WorkingHours

from support import reread

UTC = dt.UTC


@pytest.fixture
async def api(web, world, db):
    """A worker of municipality a, signed in, with working hours, and the CSRF header the API wants."""
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    await db.commit()
    await web.login(world.a.worker)
    session = await (await web.client.get("/api/v1/session")).json()
    web.headers = {"X-CSRF-Token": session["csrf_token"]}
    return web


def new(world, starts_at: str, **extra) -> dict:
    return {"citizen_id": world.a.citizen.id, "kind": "video", "starts_at": starts_at, "duration_minutes": 45, **extra}


async def post(api, path: str, body, key: str | None = None):
    headers = dict(api.headers)
    if key:
        headers["Idempotency-Key"] = key
    return await api.client.post(path, json=body, headers=headers)


async def appointments_count(db) -> int:
    await reread(db)
    return (await db.execute(select(func.count()).select_from(Appointment))).scalar_one()


async def test_the_openapi_document_is_valid_and_lists_every_api_route(web, app):
    document = await (await web.client.get("/api/openapi.json")).json()
    validate_openapi(document)  # an independent validator of the OpenAPI 3.1 specification
    documented = {(method.upper(), path) for path, ops in document["paths"].items() for method in ops}
    served = {
        (r.method, r.resource.canonical.replace(r"{id:[0-9]{1,12}}", "{id}"))
        for r in app.router.routes()
        if r.resource and r.resource.canonical.startswith("/api/v1") and r.method != "HEAD"
    }
    assert documented == served


async def test_booking_through_the_api_and_reading_it_back(api, world, db):
    created = await post(api, "/api/v1/appointments", new(world, "2026-12-01T10:00:00+01:00"))
    assert created.status == 201
    body = await created.json()
    assert body["starts_at"] == "2026-12-01T09:00:00Z" and (body["status"], body["state"]) == ("booked", "booked")
    fetched = await (await api.client.get(f"/api/v1/appointments/{body['id']}")).json()
    assert fetched == body
    listed = await (await api.client.get("/api/v1/appointments?from=2026-12-01&to=2026-12-01")).json()
    assert [a["id"] for a in listed["appointments"]] == [body["id"]]
    cancelled = await (await post(api, f"/api/v1/appointments/{body['id']}/cancel", {"reason": "Sygdom"})).json()
    assert (cancelled["status"], cancelled["state"]) == ("cancelled", "cancelled_by_worker")


async def test_the_state_follows_the_clock(api, world, clock):
    """The API's state is the state machine's, now: booked, open from 15 minutes before the start, past after."""
    body = await (await post(api, "/api/v1/appointments", new(world, "2026-11-24T10:00:00+01:00"))).json()
    for moment, state in (("08:44", "booked"), ("08:45", "open"), ("09:44", "open"), ("09:46", "past")):
        clock.now = dt.datetime.fromisoformat(f"2026-11-24T{moment}:00+00:00")
        await api.login(world.a.worker)  # the staff session would have lapsed overnight
        fetched = await (await api.client.get(f"/api/v1/appointments/{body['id']}")).json()
        assert (fetched["status"], fetched["state"]) == ("booked", state), moment


async def test_copenhagen_time_without_an_offset_and_the_skipped_spring_hour(api, world, db, clock):
    clock.now = dt.datetime(2026, 3, 1, tzinfo=UTC)
    await api.login(world.a.worker)
    api.headers = {"X-CSRF-Token": (await (await api.client.get("/api/v1/session")).json())["csrf_token"]}
    summer = await post(api, "/api/v1/appointments", new(world, "2026-03-30T10:00"))
    assert (await summer.json())["starts_at"] == "2026-03-30T08:00:00Z"
    db.add(WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=6, start_minute=0, end_minute=720))
    await db.commit()
    skipped = await post(api, "/api/v1/appointments", new(world, "2026-03-29T02:30"))
    assert skipped.status == 422
    assert (
        "does not exist" in (await skipped.json())["fields"]["starts_at"]
        or "findes ikke" in (await skipped.json())["fields"]["starts_at"]
    )


async def test_the_same_idempotency_key_ten_times_gives_one_appointment(api, world, db):
    before = await appointments_count(db)
    body = new(world, "2026-12-02T13:00:00+01:00")
    responses = [await post(api, "/api/v1/appointments", body, key="integration-42") for _ in range(10)]
    assert [r.status for r in responses] == [201] + [200] * 9
    assert len({(await r.json())["id"] for r in responses}) == 1
    assert await appointments_count(db) == before + 1


async def test_fifty_concurrent_requests_for_one_slot_create_exactly_one(api, world, db):
    before = await appointments_count(db)
    body = new(world, "2026-12-03T09:00:00+01:00")
    responses = await asyncio.gather(*(post(api, "/api/v1/appointments", body, key=f"k{i}") for i in range(50)))
    statuses = sorted(r.status for r in responses)
    assert statuses == [201] + [409] * 49
    taken = next(r for r in responses if r.status == 409)
    assert (await taken.json())["message"]  # a clear message, in the caller's language
    assert await appointments_count(db) == before + 1


@pytest.mark.parametrize(
    "body, field",
    [
        ({"citizen_id": "1", "kind": "video", "starts_at": "2026-12-01T10:00", "duration_minutes": 45}, "citizen_id"),
        ({"kind": "video", "starts_at": "2026-12-01T10:00", "duration_minutes": 45}, "citizen_id"),
        ({"citizen_id": 1, "kind": "teleport", "starts_at": "2026-12-01T10:00", "duration_minutes": 45}, "kind"),
        ({"citizen_id": 1, "kind": "video", "starts_at": "tomorrow", "duration_minutes": 45}, "starts_at"),
        (
            {"citizen_id": 1, "kind": "video", "starts_at": "2026-12-01T10:00", "duration_minutes": 5},
            "duration_minutes",
        ),
        (
            {
                "citizen_id": 1,
                "kind": "video",
                "starts_at": "2026-12-01T10:00",
                "duration_minutes": 45,
                "note_to_citizen": "x" * 301,
            },
            "note_to_citizen",
        ),
        (
            {
                "citizen_id": 1,
                "kind": "video",
                "starts_at": "2026-12-01T10:00",
                "duration_minutes": 45,
                "interpreter": {"name": "Tina"},
            },
            "interpreter.language",
        ),
        (
            {"citizen_id": 1, "kind": "video", "starts_at": "2026-12-01T10:00", "duration_minutes": 45, "worker_id": 7},
            "worker_id",
        ),
        ([1, 2, 3], "body"),
    ],
)
async def test_invalid_bodies_get_a_message_per_field_and_write_nothing(api, world, db, body, field):
    before = await appointments_count(db)
    response = await post(api, "/api/v1/appointments", body)
    assert response.status == 422
    errors = (await response.json())["fields"]
    assert field in errors and errors[field]
    assert await appointments_count(db) == before


async def test_bad_json_oversized_bodies_and_missing_csrf_are_refused(api, world, db):
    before = await appointments_count(db)
    headers = {**api.headers, "Content-Type": "application/json"}
    broken = await api.client.post("/api/v1/appointments", data=b'{"citizen_id": ', headers=headers)
    assert broken.status == 422 and "body" in (await broken.json())["fields"]
    huge = await api.client.post("/api/v1/appointments", data=b'{"a": "' + b"x" * 40_000 + b'"}', headers=headers)
    assert huge.status == 413
    no_token = await api.client.post("/api/v1/appointments", json=new(world, "2026-12-01T10:00"))
    assert no_token.status == 403
    assert await appointments_count(db) == before


async def test_another_municipalitys_or_workers_data_is_not_found(api, world, db):
    foreign = await post(
        api, "/api/v1/appointments", {**new(world, "2026-12-01T10:00"), "citizen_id": world.b.citizen.id}
    )
    assert foreign.status == 404
    for appointment_id in (world.b.citizen.appointment_id, world.a.other_citizen.appointment_id, 99999):
        response = await api.client.get(f"/api/v1/appointments/{appointment_id}")
        assert response.status == 404 and "starts_at" not in await response.text()


async def test_without_a_staff_session_the_api_answers_401_or_403_in_json(web, world):
    anonymous = await web.client.get("/api/v1/appointments?from=2026-12-01&to=2026-12-02")
    assert anonymous.status == 401 and (await anonymous.json())["error"] == 401
    await web.open_link(world.a.citizen.link_token)
    citizen = await web.client.get("/api/v1/appointments?from=2026-12-01&to=2026-12-02")
    assert citizen.status == 403


async def test_availability_lists_free_times_in_utc(api, world):
    slots = await (await api.client.get("/api/v1/availability?from=2026-11-25&days=1&duration_minutes=60")).json()
    assert slots["slots"][0] == "2026-11-25T07:00:00Z" and slots["slots"][-1] == "2026-11-25T14:00:00Z"
    bad = await api.client.get("/api/v1/availability?from=someday&days=999&duration_minutes=60")
    assert bad.status == 422 and set((await bad.json())["fields"]) == {"from", "days"}


async def test_every_api_post_needs_the_csrf_header_and_writes_nothing_without_it(api, world, db):
    before = await appointments_count(db)
    for path in ("/api/v1/appointments", f"/api/v1/appointments/{world.a.citizen.appointment_id}/cancel"):
        response = await api.client.post(path, json={"reason": "x", **new(world, "2026-12-01T10:00")})
        assert response.status == 403, path
        wrong = await api.client.post(path, json={"reason": "x"}, headers={"X-CSRF-Token": "0" * 64})
        assert wrong.status == 403, path
    assert await appointments_count(db) == before
