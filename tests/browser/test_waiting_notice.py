"""The worker always knows (issue 12), in Chromium: the worker's week page, left open, shows "Citizen venter" without
a reload once the citizen enters the waiting room (through the real app: their link, a join ticket, the signalling
socket), with the count in the tab's title, one beep and one browser notification; the notice follows the worker to
the appointment page without beeping again, and its "Luk ind" opens the call page. Notifications are offered with
a button on the week page, never asked for by themselves. axe-core checks the pages with the notice shown."""

from __future__ import annotations

import re
import time
from contextlib import asynccontextmanager

import aiohttp
import pytest
from playwright.async_api import expect

from realtime.peer import Peer

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

NOTICE_WITHIN = 6.0  # seconds: a poll every 3 s, with room for a loaded two-core machine
# Test instrumentation only (injected by Playwright): keep the titles of the browser notifications the page makes.
RECORD_NOTIFICATIONS = """
(() => {
  window.__notifications = [];
  const Original = window.Notification;
  if (!Original) return;
  function Recorded(title, options) {
    window.__notifications.push(title);
    return new Original(title, options);
  }
  Object.defineProperty(Recorded, "permission", { get: () => Original.permission });
  Recorded.requestPermission = (...args) => Original.requestPermission(...args);
  window.Notification = Recorded;
})();
"""


@asynccontextmanager
async def citizen_in_waiting_room(site, world):
    """The citizen opens their link, asks for a join ticket and enters the call's waiting room (a real socket
    through the served app); leaves when done. Yields (the peer, when the socket was asked to join)."""
    appointment_id = world.a.citizen.appointment_id
    # unsafe: keep cookies from an IP address (the app is served on 127.0.0.1)
    async with aiohttp.ClientSession(base_url=site.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        async with session.get(f"/l/{world.a.citizen.link_token}") as opened:
            assert opened.status == 200
        async with session.get("/me") as me:
            token = re.search(r'name="csrf_token" value="([^"]+)"', await me.text()).group(1)
        async with session.post(
            f"/calls/{appointment_id}/ticket", headers={"X-CSRF-Token": token, "Origin": site.url}
        ) as response:
            assert response.status == 200, await response.text()
            ticket = (await response.json())["ticket"]
        peer = Peer(session, f"{site.url.replace('http', 'ws', 1)}/ws/calls", media=False)
        try:
            started = time.monotonic()
            assert (await peer.join(ticket))["state"] == "waiting"
            yield peer, started
            await peer.send(type="leave")
            await peer.closed()
        finally:
            await peer.close()


async def test_the_week_page_shows_who_is_waiting_without_a_reload(page, site, world, log_in, assert_accessible):
    site.clock.advance(days=1, minutes=-10)  # ten minutes before the citizen's video session
    appointment_id = world.a.citizen.appointment_id
    await page.context.grant_permissions(["notifications"], origin=site.url)
    await page.context.add_init_script(RECORD_NOTIFICATIONS)
    await log_in(world.a.worker)
    await expect(page).to_have_url(re.compile(r"/worker$"))
    notice = page.locator("#waiting-notice")
    await expect(notice.locator(".waiting-notice__list")).to_be_hidden()
    await expect(page).to_have_title("Min uge – Virtuel Bostøtte")
    await expect(page.locator("#waiting-notify")).to_be_hidden()  # already allowed: nothing to offer
    await page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    async with citizen_in_waiting_room(site, world) as (_citizen, started):
        await expect(notice).to_contain_text("Citizen venter (lige kommet)", timeout=NOTICE_WITHIN * 1000)
        print(f"the week page showed the waiting citizen {time.monotonic() - started:.2f} s after they joined")
        assert await page.evaluate("window.__sameDocument === true")
        await expect(page).to_have_title("(1) Citizen venter – Min uge – Virtuel Bostøtte")
        admit = notice.get_by_role("link", name="Luk ind – Citizen")
        await expect(admit).to_have_attribute("href", f"/calls/{appointment_id}")
        assert await notice.get_attribute("data-beeps") == "1"
        assert await page.evaluate("window.__notifications") == ["Citizen venter på dig"]
        # Further polls neither beep nor notify again for the same arrival.
        updated = await notice.get_attribute("data-updated")
        await expect(notice).not_to_have_attribute("data-updated", updated, timeout=NOTICE_WITHIN * 1000)
        assert await notice.get_attribute("data-beeps") == "1"
        assert await page.evaluate("window.__notifications") == ["Citizen venter på dig"]
        await assert_accessible(page)

        # The notice follows the worker to the appointment page, without announcing the same arrival again.
        await page.goto(f"/appointments/{appointment_id}")
        await expect(notice).to_contain_text("Citizen venter", timeout=NOTICE_WITHIN * 1000)
        assert await notice.get_attribute("data-beeps") is None
        assert await page.evaluate("window.__notifications") == []
        await assert_accessible(page)
        await admit.click()
        await expect(page).to_have_url(re.compile(rf"/calls/{appointment_id}$"))
        await page.goto("/worker")
        await expect(notice).to_contain_text("Citizen venter", timeout=NOTICE_WITHIN * 1000)

    # The citizen left: the notice goes, and the title is the page's own again.
    await expect(notice.locator(".waiting-notice__list")).to_be_hidden(timeout=NOTICE_WITHIN * 1000)
    await expect(page).to_have_title("Min uge – Virtuel Bostøtte")


async def test_notifications_are_offered_with_a_button_and_a_no_is_kept(page, world, log_in, assert_accessible):
    await log_in(world.a.worker)
    offer = page.locator("#waiting-notify")
    await expect(offer).to_be_visible()
    await expect(offer).to_contain_text("Få en besked på skærmen, når nogen venter")
    await assert_accessible(page)
    await offer.get_by_role("button", name="Nej tak").click()
    await expect(offer).to_be_hidden()
    await page.reload()
    await expect(page.locator("main h1")).to_have_text("Min uge")
    await expect(offer).to_be_hidden()
