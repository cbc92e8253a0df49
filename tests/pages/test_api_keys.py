"""Personal API keys: a municipal system calls the JSON API with ``Authorization: Bearer`` as a staff member,
without a browser session or CSRF token; the key stops working when revoked, expired or its owner is
deactivated, and never opens a page outside the API."""

from __future__ import annotations

import re
from html import unescape

from sqlalchemy import func, select

from vbostotte.models import ApiToken, AuditEntry, Staff, WorkingHours

from support import read_in_english, reread

KEY_RE = re.compile(r"<code[^>]*>(vbt_[A-Za-z0-9_-]+)</code>")


async def make_key(web, staff, label="Case system", days="90") -> str:
    await web.login(staff)
    response = await web.post("/account/api-keys", {"label": label, "days": days})
    assert response.status == 200
    return unescape(KEY_RE.search(await response.text()).group(1))


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_a_key_is_shown_once_stored_hashed_and_its_making_audited(web, world, db):
    key = await make_key(web, world.a.worker)
    await reread(db)
    rows = (await db.execute(select(ApiToken).where(ApiToken.staff_id == world.a.worker.id))).scalars().all()
    assert len(rows) == 2 and all(key not in (row.token_hash, row.label) for row in rows)  # the world made one too
    assert key not in await web.page("/account/api-keys")  # never shown again
    audited = await db.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "api_token.create", AuditEntry.actor_id == world.a.worker.id)
    )
    assert audited == 2


async def test_a_system_books_and_reads_with_the_key_alone(web, other_web, world, db, app):
    db.add_all(
        [
            WorkingHours(staff_id=world.a.worker.id, kind="work", weekday=d, start_minute=480, end_minute=960)
            for d in range(5)
        ]
    )
    await db.commit()
    key = await make_key(web, world.a.worker)
    system = other_web.client  # no cookies, no CSRF token, no Origin: a server calling the API
    body = {
        "citizen_id": world.a.citizen.id,
        "kind": "home_visit",
        "starts_at": "2026-12-01T10:00:00+01:00",
        "duration_minutes": 45,
    }
    created = await system.post("/api/v1/appointments", json=body, headers=bearer(key))
    assert created.status == 201, await created.text()
    appointment_id = (await created.json())["id"]
    read = await system.get(f"/api/v1/appointments/{appointment_id}", headers=bearer(key))
    assert read.status == 200 and (await read.json())["starts_at"] == "2026-12-01T09:00:00Z"
    foreign = await system.get(f"/api/v1/appointments/{world.b.citizen.appointment_id}", headers=bearer(key))
    assert foreign.status == 404  # the key is its owner: same authorisation as the pages
    await reread(db)
    assert (
        await db.get(
            ApiToken,
            (
                await db.execute(
                    select(ApiToken.id).where(ApiToken.staff_id == world.a.worker.id).order_by(ApiToken.id.desc())
                )
            )
            .scalars()
            .first(),
        )
    ).last_used_at


async def test_a_revoked_expired_or_unknown_key_or_inactive_owner_is_refused(web, other_web, world, db, clock):
    read_in_english(web, other_web)
    system = other_web.client
    key = await make_key(web, world.a.worker)
    path = "/api/v1/appointments?from=2026-11-23&to=2026-11-30"
    assert (await system.get(path, headers=bearer(key))).status == 200
    for wrong in ("vbt_" + "x" * 43, "not-a-key", "", "vbt_" + "y" * 200):
        refused = await system.get(path, headers=bearer(wrong))
        assert refused.status == 401 and refused.headers["WWW-Authenticate"].startswith("Bearer")
        assert (await refused.json())["message"] == "The API key is not valid, has expired or was revoked."
    assert (await system.get(path, headers={"Authorization": f"Basic {key}"})).status == 401

    clock.advance(days=91)
    assert (await system.get(path, headers=bearer(key))).status == 401  # expired
    clock.advance(days=-91)

    staff = await db.get(Staff, world.a.worker.id)
    staff.active = False
    await db.commit()
    assert (await system.get(path, headers=bearer(key))).status == 401
    staff.active = True
    await db.commit()
    assert (await system.get(path, headers=bearer(key))).status == 200

    await reread(db)
    newest = (
        (await db.execute(select(ApiToken).where(ApiToken.staff_id == world.a.worker.id).order_by(ApiToken.id.desc())))
        .scalars()
        .first()
    )
    assert (await web.post(f"/account/api-keys/{newest.id}/revoke", from_page="/account/api-keys")).status == 303
    assert (await system.get(path, headers=bearer(key))).status == 401


async def test_a_key_opens_nothing_outside_the_api_and_cannot_revoke_anothers_key(web, other_web, world, db):
    key = await make_key(web, world.a.worker)
    page = await other_web.client.get("/worker", headers=bearer(key), allow_redirects=False)
    assert page.status == 303 and page.headers["Location"].endswith("/login")  # pages need a signed-in browser
    await other_web.login(world.a.other_worker)
    before = await db.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None)))
    refused = await other_web.post(f"/account/api-keys/{world.a.api_token_id}/revoke", from_page="/account/api-keys")
    assert refused.status == 404
    await reread(db)
    assert await db.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.revoked_at.is_(None))) == before


async def test_citizens_and_administrators_have_no_keys(web, world):
    await web.login(world.a.admin)
    assert (await web.get("/account/api-keys")).status == 403
    assert (await web.open_link(world.a.citizen.link_token)).status == 303
    assert (await web.get("/account/api-keys")).status == 403


async def test_at_most_five_active_keys(web, world, db):
    await make_key(web, world.a.worker)  # the world's key and this one
    for n in range(3):
        assert (await web.post("/account/api-keys", {"label": f"System {n}", "days": "30"})).status == 200
    refused = await web.post("/account/api-keys", {"label": "One too many", "days": "30"})
    assert refused.status == 422
    await reread(db)
    assert (
        await db.scalar(select(func.count()).select_from(ApiToken).where(ApiToken.staff_id == world.a.worker.id)) == 5
    )
