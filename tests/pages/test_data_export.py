"""The citizen's own data through the pages: a printable page and a JSON download, from the citizen's page or by
their worker; each download audit-logged; no staff names in the access log; others get 403/404."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from vbostotte import audit
from vbostotte.models import AuditEntry, CallRequest, CallRequestAnswer

from support import read_in_english, reread, text_of


@pytest.fixture(autouse=True)
def english(web, other_web):
    read_in_english(web, other_web)


async def downloads(db) -> list[tuple]:
    await reread(db)
    rows = (
        await db.execute(select(AuditEntry).where(AuditEntry.action.like("data_export.%")).order_by(AuditEntry.id))
    ).scalars()
    return [(e.actor_kind, e.action, e.citizen_id, e.purpose, e.outcome) for e in rows]


async def test_the_citizen_reads_and_downloads_their_data(web, world, db):
    me = world.a.citizen
    await web.open_link(me.link_token)
    assert 'href="/me/data"' in await web.page("/me")
    page = text_of(await web.page("/me/data"))
    assert f"Data about {me.name}" in page
    for heading in (
        "Appointments",
        "Consents",
        "Notes shared with you",
        "Goals",
        "How you have been doing",
        "Day plans",
        "Who has looked at or changed your data, and why",
    ):
        assert heading in page, heading
    assert f"Agenda for {me.name}" in page and "Gå en tur hver dag" in page and "Køb ind" in page
    # The access log says what kind of person and why, never who by name. A page's own reading is appended to the
    # log as the page is answered (web/middlewares.py), so the next load shows it.
    log = text_of(await web.page("/me/data")).split("Who has looked at or changed your data, and why", 1)[1]
    assert "A support worker" in log and "You, on your own page" in log and "A copy of your data" in log
    assert world.a.worker.name not in log

    response = await web.get("/me/data.json")
    assert response.status == 200 and response.content_type == "application/json"
    assert response.headers["Content-Disposition"] == 'attachment; filename="my-data-2026-11-23.json"'
    data = json.loads(await response.text())
    assert data["citizen"]["name"] == me.name and data["generated_at"] == "2026-11-23T07:00:00Z"
    assert data["day_plans"]["tasks"][0]["title"] == "Køb ind"
    assert await downloads(db) == [
        ("citizen", "data_export.html", me.id, audit.Purpose.DATA_ACCESS, "allowed"),
        ("citizen", "data_export.html", me.id, audit.Purpose.DATA_ACCESS, "allowed"),
        ("citizen", "data_export.json", me.id, audit.Purpose.DATA_ACCESS, "allowed"),
    ]


async def test_the_printable_page_lists_her_requests_for_a_call_and_their_answers(web, world, db, clock):
    me = world.a.citizen
    for minutes, answer in ((-90, CallRequestAnswer.CALLED), (-30, None)):
        asked = clock() + dt.timedelta(minutes=minutes)
        db.add(
            CallRequest(
                municipality_id=world.a.id,
                citizen_id=me.id,
                worker_id=world.a.worker.id,
                created_at=asked,
                answer=answer,
                answered_at=asked + dt.timedelta(minutes=2) if answer else None,
            )
        )
    await db.commit()
    await web.open_link(me.link_token)
    requests = text_of(await web.page("/me/data")).split("Your requests for a call", 1)[1].split("Consents", 1)[0]
    assert requests.count("Your support worker called you") == 1 and requests.count("Not answered") == 1
    data = json.loads(await (await web.get("/me/data.json")).text())
    assert [r["answer"] for r in data["call_requests"]] == ["called", None]


async def test_the_worker_downloads_on_the_citizens_behalf(web, world, db):
    citizen = world.a.citizen
    await web.login(world.a.worker)
    assert f'href="/citizens/{citizen.id}/data"' in await web.page(f"/citizens/{citizen.id}")
    assert f"Data about {citizen.name}" in text_of(await web.page(f"/citizens/{citizen.id}/data"))
    data = json.loads(await (await web.get(f"/citizens/{citizen.id}/data.json")).text())
    assert data["citizen"]["id"] == citizen.id and data["requested_by"] == "worker"
    assert [row[1:] for row in await downloads(db)] == [
        ("data_export.html", citizen.id, audit.Purpose.DATA_ACCESS, "allowed"),
        ("data_export.json", citizen.id, audit.Purpose.DATA_ACCESS, "allowed"),
    ]


async def test_without_consent_the_workers_download_leaves_out_check_ins(web, world):
    await web.login(world.a.other_worker)
    page = text_of(await web.page(f"/citizens/{world.a.other_citizen.id}/data"))
    assert "Check-ins and the day plan are left out" in page and "How you have been doing" not in page


@pytest.mark.parametrize("who,status", [("supervisor", 403), ("admin", 403), ("other_worker", 404)])
async def test_no_one_else_downloads_it(web, world, db, who, status):
    await web.login(getattr(world.a, who))
    for path in (f"/citizens/{world.a.citizen.id}/data", f"/citizens/{world.a.citizen.id}/data.json"):
        response = await web.get(path)
        assert response.status == status, path
        assert world.a.citizen.name not in await response.text()
    assert await downloads(db) == []
