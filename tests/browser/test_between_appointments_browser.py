"""Between appointments (issue 16, items 1–2), in Chromium: the citizen (a 360x740 phone) taps "Jeg vil gerne tale
med dig"; the worker's page, left open, shows "Citizen vil gerne tale med dig — Ring op / Foreslå en tid" without a
reload; the worker presses "Ring op" and lands on the call page; the citizen's start page, left open, shows the call
card with its big button without a reload. axe-core checks the new states."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from vbostotte.models import WorkingHours

from browser.conftest import PHONE

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

LIVE_WITHIN = 8000  # ms: the citizen's page asks every 5 s, the worker's every 3 s, on a loaded two-core machine


async def test_the_knock_and_the_call_card_arrive_live(page, browser, site, world, db, log_in, assert_accessible):
    for kind in ("work", "messages"):  # Monday 08.00–16.00 (the clock starts Monday 08.00 Copenhagen time)
        db.add(WorkingHours(staff_id=world.a.worker.id, kind=kind, weekday=0, start_minute=480, end_minute=960))
    await db.commit()
    await log_in(world.a.worker)
    await expect(page).to_have_url(re.compile(r"/worker$"))
    await page.evaluate("window.__sameDocument = true")  # gone if the page reloads

    phone = await browser.new_context(viewport=PHONE, base_url=site.url)
    phone.set_default_timeout(5000)
    try:
        citizen = await phone.new_page()
        await citizen.goto(f"/l/{world.a.citizen.link_token}")
        await expect(citizen).to_have_url(re.compile(r"/me$"))
        talk = citizen.get_by_role("button", name="Jeg vil gerne tale med dig")
        await expect(talk).to_be_visible()
        box = await talk.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"] and box["height"] >= 44
        await talk.click()
        await expect(citizen.locator("main")).to_contain_text("Vi har sagt det til din støtteperson")
        await assert_accessible(citizen)
        await citizen.set_viewport_size(PHONE)
        await citizen.evaluate("window.__sameDocument = true")

        # The worker's page shows the knock live.
        notice = page.locator("#waiting-notice")
        await expect(notice).to_contain_text("Citizen vil gerne tale med dig", timeout=LIVE_WITHIN)
        assert await page.evaluate("window.__sameDocument === true")
        await expect(notice.get_by_role("link", name="Foreslå en tid – Citizen")).to_be_visible()
        await assert_accessible(page)

        # "Ring op": the call starts and the worker is on its page.
        await notice.get_by_role("button", name="Ring op – Citizen").click()
        await expect(page).to_have_url(re.compile(r"/calls/\d+$"))
        call_url = page.url.removeprefix(site.url)

        # The citizen's start page shows the call card live, at the top, its button on the phone's screen.
        card = citizen.locator("#now-live")
        await expect(card).to_be_visible(timeout=LIVE_WITHIN)
        assert await citizen.evaluate("window.__sameDocument === true")
        await expect(card.locator("h2")).to_have_text("Din videosamtale med Worker")
        go = card.get_by_role("link", name="Gå til samtalen")
        await expect(go).to_have_attribute("href", call_url)
        await expect(citizen.locator("#next")).to_be_hidden()
        box = await go.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
        assert box["y"] + box["height"] <= PHONE["height"]  # seen without scrolling
        await assert_accessible(citizen)
    finally:
        await phone.close()
