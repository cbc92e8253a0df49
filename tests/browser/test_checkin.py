"""In a real browser on a 360 px phone: the citizen opens their personal link, taps "How am I today?" in their
start page's menu, answers "How are you today?" with a few taps, and sees the confirmation — on a page that passes axe-core's WCAG 2.1 A/AA rules; the lowest answer
shows the crisis line and says it is not an alarm service."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

from vbostotte.models import MunicipalitySettings

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PHONE = {"width": 360, "height": 740}
FITS_WIDTH = "document.documentElement.scrollWidth <= window.innerWidth"


async def open_on_a_phone(page, world):
    await page.set_viewport_size(PHONE)
    await page.goto(f"/l/{world.a.citizen.link_token}")
    await expect(page).to_have_url(re.compile(r"/me$"))
    await page.get_by_role("link", name="Hvordan har jeg det i dag?").click()
    await expect(page).to_have_url(re.compile(r"/me/wellbeing$"))


async def test_a_citizen_checks_in_with_a_few_taps_on_a_phone(page, world, assert_accessible):
    await open_on_a_phone(page, world)
    section = page.locator("#checkin")
    await expect(section.get_by_role("heading", name=re.compile("Hvordan har du det i dag"))).to_be_visible()
    await section.get_by_label(re.compile("Et par ord")).fill("Sov godt i nat")
    good = section.get_by_role("button", name="Godt", exact=True)
    box = await good.bounding_box()
    assert box["height"] >= 56 and box["width"] >= 280  # a big target, nearly the phone's width
    await good.click()  # the tap sends it: no further step
    await expect(page).to_have_url(re.compile(r"/me/wellbeing\?done=checkin#checkin$"))
    await expect(page.get_by_role("status")).to_have_text("Tak. Du svarede: Godt.")
    assert await page.evaluate(FITS_WIDTH)
    await assert_accessible(page)


async def test_the_lowest_answer_shows_the_crisis_line_at_once(page, world, db, assert_accessible, screenshot):
    db.add(
        MunicipalitySettings(
            municipality_id=world.a.id,
            reminder_offsets_minutes="1440",
            confirm_cutoff_minutes=180,
            crisis_line_text="Psykiatrisk akutmodtagelse: 7011 2233",
        )
    )
    await db.commit()
    await open_on_a_phone(page, world)
    await page.locator("#checkin").get_by_role("button", name="Meget dårligt").click()
    await expect(page).to_have_url(re.compile(r"/me/wellbeing\?done=checkin#checkin$"))
    crisis = page.locator("#checkin .crisis")
    # A calm, neutral acknowledgement with the crisis help, not a green success box repeating "Very bad".
    await expect(crisis.get_by_role("status")).to_have_text(
        "Tak, fordi du fortæller os det. Det lyder som en svær dag."
    )
    await expect(crisis).to_contain_text("Psykiatrisk akutmodtagelse: 7011 2233")
    await expect(crisis).to_contain_text("ikke en alarm")
    await expect(page.locator("#checkin .notice")).to_have_count(0)
    await expect(page.locator("main")).not_to_contain_text("Du svarede")
    background = await crisis.evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(255, 255, 255)"  # the page's paper, not the green of a done notice
    await screenshot(page, "citizen-checkin-hard-day.png")  # for the README (VB_SCREENSHOTS=1)
    assert await page.evaluate(FITS_WIDTH)
    await assert_accessible(page)
