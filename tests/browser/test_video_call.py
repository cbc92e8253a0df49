"""A real video call in two Chromium windows: the citizen waits, the worker lets them in, video flows both
ways (frames decoded, read from the page), and the citizen's one click on Leave ends it for them."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect


pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# Remote video is playing when a video other than one's own has a size and has advanced in time.
REMOTE_VIDEO_PLAYING = """() => [...document.querySelectorAll('#videos video')]
  .some(v => v.id !== 'self-video' && v.videoWidth > 0 && v.currentTime > 0)"""


async def test_citizen_and_worker_call_through_the_waiting_room(browser, site, page, world, log_in, assert_accessible):
    appointment = world.a.citizen.appointment_id
    site.clock.advance(days=1, minutes=-10)  # ten minutes before the video session: the call is open
    await log_in(world.a.worker)
    await page.goto(f"/calls/{appointment}")
    await assert_accessible(page)
    await page.get_by_role("button", name="Deltag i samtalen").click()
    await expect(page.locator("#call-status")).to_have_text("Venter på, at de andre kommer.")

    citizen_context = await browser.new_context(viewport={"width": 360, "height": 740}, base_url=site.url)
    citizen_context.set_default_timeout(10000)
    citizen = await citizen_context.new_page()
    try:
        await citizen.goto(f"/l/{world.a.citizen.link_token}")
        await citizen.get_by_role("link", name="Gå til samtalen").click()
        await expect(citizen).to_have_url(re.compile(rf"/calls/{appointment}$"))
        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await expect(citizen.locator("#call-status")).to_have_text("Din medarbejder lukker dig ind om lidt.")

        await page.get_by_role("button", name="Luk Citizen ind").click()
        await page.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=15000)
        await citizen.wait_for_function(REMOTE_VIDEO_PLAYING, timeout=15000)
        await expect(citizen.locator("#call-status")).to_have_text("Du er med i samtalen.")
        await assert_accessible(citizen)

        await citizen.get_by_role("button", name="Forlad samtalen").click()  # one click, no confirmation
        await expect(citizen).to_have_url(re.compile(r"/me\?done=call_ended$"))
        await expect(citizen.locator("main")).to_contain_text("Samtalen er slut.")
        await expect(page.locator("#call-status")).to_have_text("Citizen har forladt samtalen.")
    finally:
        await citizen_context.close()
