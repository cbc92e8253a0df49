"""The worker's waiting notice (issue 12) on the pages: every page of a worker but the call page carries it, nobody
else's does; its JSON is for workers only; and asking it every few seconds does not keep an idle session alive."""

from __future__ import annotations

JSON = {"Accept": "application/json"}


async def test_every_page_of_a_worker_but_the_call_page_carries_the_notice(world, clock, web, other_web):
    await web.login(world.a.worker)
    for path in ("/worker", f"/appointments/{world.a.citizen.appointment_id}", f"/citizens/{world.a.citizen.id}"):
        page = await web.page(path)
        assert 'id="waiting-notice"' in page and 'data-url="/worker/waiting"' in page, path
        assert "js/waiting_notice.js" in page, path
    assert 'id="waiting-notify"' in await web.page("/worker")  # notifications are offered on the week page
    clock.advance(days=1, minutes=-10)
    assert 'id="waiting-notice"' not in await web.page(f"/calls/{world.a.citizen.appointment_id}")
    await other_web.open_link(world.a.citizen.link_token)
    assert 'id="waiting-notice"' not in await other_web.page("/me")


async def test_only_a_signed_in_worker_may_ask_who_is_waiting(world, web, other_web):
    assert (await web.client.get("/worker/waiting", headers=JSON)).status == 401
    await web.login(world.a.supervisor)
    assert (await web.client.get("/worker/waiting", headers=JSON)).status == 403
    assert 'id="waiting-notice"' not in await web.page("/supervisor")
    await other_web.open_link(world.a.citizen.link_token)
    assert (await other_web.client.get("/worker/waiting", headers=JSON)).status == 403


async def test_asking_does_not_keep_an_idle_session_alive(world, clock, web, settings):
    await web.login(world.a.worker)
    await web.page("/worker")
    idle = settings.session_idle_minutes
    clock.advance(minutes=idle - 1)
    assert (await web.client.get("/worker/waiting", headers=JSON)).status == 200  # still signed in
    clock.advance(minutes=2)  # idle past the limit, though the page kept asking
    assert (await web.client.get("/worker/waiting", headers=JSON)).status == 401
    assert (await web.get("/worker")).status in (302, 303)
