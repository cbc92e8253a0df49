"""The team's phone number (issue 12): the administrator sets it for each team; the team's citizens see it — a big
"Ring til …" button on their contact page, and under the call on their start page, "if nobody lets you in after a
few minutes, call us". Only an administrator of the team's own municipality may set it; a wrong number is refused."""

from __future__ import annotations

from sqlalchemy import select

from vbostotte.models import AuditEntry, Team

from support import reread, text_of


async def team_phone(db, team_id: int) -> str | None:
    await reread(db)
    return (await db.get(Team, team_id)).phone


async def test_the_administrator_sets_the_number_and_the_citizens_see_it(world, web, other_web, db, clock):
    a = world.a
    await other_web.open_link(a.citizen.link_token)
    assert "tel:" not in await other_web.page("/me/contact")

    await web.login(a.admin)
    assert f'action="/admin/teams/{a.team_id}/phone"' in await web.page("/admin")
    saved = await web.post(f"/admin/teams/{a.team_id}/phone", {"phone": "89 40 12 34"}, from_page="/admin")
    assert saved.status == 303 and saved.headers["Location"] == "/admin?done=team_phone"
    assert await team_phone(db, a.team_id) == "89401234"
    assert 'value="89401234"' in await web.page("/admin")
    entries = (await db.execute(select(AuditEntry).where(AuditEntry.action == "team.phone"))).scalars().all()
    assert [(e.actor_id, e.object_type, e.object_id, e.citizen_id) for e in entries] == [
        (a.admin.id, "team", a.team_id, None)
    ]

    contact = await other_web.page("/me/contact")
    assert '<a class="button button--big" href="tel:89401234">Ring til Team Aarhus: 89401234</a>' in contact
    assert "tel:" not in await other_web.page("/me")  # no call now: the start page does not need it
    clock.advance(days=1, minutes=-10)  # the call is open
    home = await other_web.page("/me")
    card = text_of(home.split('class="now-card"', 1)[1].split("</section>", 1)[0] + "</main>")
    assert "Hvis ingen lukker dig ind efter et par minutter, så ring til os: 89401234" in card
    assert 'href="tel:89401234"' in home

    await web.login(a.admin)  # a day later: signed in again
    removed = await web.post(f"/admin/teams/{a.team_id}/phone", {"phone": ""}, from_page="/admin")
    assert removed.status == 303 and await team_phone(db, a.team_id) is None
    assert "tel:" not in await other_web.page("/me") and "tel:" not in await other_web.page("/me/contact")


async def test_a_wrong_number_is_refused(world, web, db):
    await web.login(world.a.admin)
    refused = await web.post(f"/admin/teams/{world.a.team_id}/phone", {"phone": "ring til Bo"}, from_page="/admin")
    assert refused.status == 422
    assert await team_phone(db, world.a.team_id) is None


async def test_only_an_administrator_of_the_teams_municipality_sets_it(world, web, db):
    for who in (world.a.worker, world.a.supervisor):
        await web.login(who)
        refused = await web.post(f"/admin/teams/{world.a.team_id}/phone", {"phone": "89401234"}, from_page="/")
        assert refused.status == 403, who.role
        await web.post("/logout", from_page="/")
    await web.login(world.b.admin)
    refused = await web.post(f"/admin/teams/{world.a.team_id}/phone", {"phone": "89401234"}, from_page="/admin")
    assert refused.status == 404
    assert await team_phone(db, world.a.team_id) is None
