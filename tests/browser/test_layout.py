"""What a phone or keyboard user meets: no sideways scrolling at 360 px, big targets and a visible focus on the
citizen's pages. With VB_SCREENSHOTS=1 the pages are also saved to docs/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DESKTOP, PHONE = {"width": 1280, "height": 800}, {"width": 360, "height": 740}

FITS_WIDTH = "document.documentElement.scrollWidth <= window.innerWidth"
FOCUSED = """() => {
  const el = document.activeElement, style = getComputedStyle(el), box = el.getBoundingClientRect();
  return {what: el.outerHTML.slice(0, 80), outline: style.outlineStyle === 'none' ? 0 : parseFloat(style.outlineWidth),
          top: box.top, left: box.left, width: box.width, height: box.height};
}"""
TARGETS = """() => [...document.querySelectorAll('a[href], button, input:not([type=hidden]), select, textarea')]
  .filter(el => el.getClientRects().length && !el.closest('.skip-link'))
  .map(el => { const box = el.getBoundingClientRect();
               return {what: el.outerHTML.slice(0, 80), width: box.width, height: box.height}; })"""


async def test_the_login_page_fits_a_phone_without_sideways_scrolling(page):
    await page.set_viewport_size(PHONE)
    await page.goto("/login")
    await expect(page.locator("main input[name=password]")).to_be_visible()
    assert await page.evaluate(FITS_WIDTH)


async def test_the_worker_week_fits_a_phone_and_reads_well_on_a_desktop(page, world, log_in, screenshot):
    await log_in(world.a.worker)
    await expect(page).to_have_url(re.compile(r"/worker$"))
    await expect(page.locator("main table")).to_contain_text(world.a.citizen.name)
    await screenshot(page, "worker-home.png")  # at 1280x800
    await page.set_viewport_size(PHONE)
    assert await page.evaluate(FITS_WIDTH)
    await page.set_viewport_size(DESKTOP)


async def test_the_citizen_page_fits_a_phone_with_big_targets(page, world, screenshot):
    await page.set_viewport_size(PHONE)
    await page.goto(f"/l/{world.a.citizen.link_token}")
    await expect(page.locator("main")).to_contain_text(f"Agenda for {world.a.citizen.name}")
    await screenshot(page, "citizen-home.png")
    assert await page.evaluate(FITS_WIDTH)
    small = [t for t in await page.evaluate(TARGETS) if t["width"] < 44 or t["height"] < 44]
    assert not small, f"targets smaller than 44x44 px on the citizen's page: {small}"


async def test_the_keyboard_focus_is_always_visible_on_the_citizen_page(page, world):
    await page.set_viewport_size(PHONE)
    await page.goto(f"/l/{world.a.citizen.link_token}")
    await expect(page).to_have_url(re.compile(r"/me$"))
    seen = []
    for _ in range(10):
        await page.keyboard.press("Tab")
        focused = await page.evaluate(FOCUSED)
        if focused["what"] in (f["what"] for f in seen) or focused["what"].startswith("<body"):
            break
        seen.append(focused)
    assert seen[0]["what"].startswith('<a class="skip-link"'), "the first Tab stop skips to the content"
    assert len(seen) >= 3  # skip link, the site name, the page's own link, the two language buttons
    for focused in seen:
        assert focused["outline"] >= 2, f"no visible focus outline on {focused['what']}"
        assert focused["top"] >= 0 and focused["left"] >= 0, f"focused but off screen: {focused['what']}"
        assert focused["width"] >= 44 and focused["height"] >= 44, f"target too small: {focused}"
