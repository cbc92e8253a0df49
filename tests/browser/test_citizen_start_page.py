"""The citizen's start page at 360×740 in Chromium (issue 12): with a call open, its card — who, when, and the big
button into the call — lies inside the first screen; otherwise the next appointment and its answers do; the page is
at most two screens tall (it was 13,434 px, about 18); every page of its menu passes axe-core at 1280 and 360 px and
has a way back."""

from __future__ import annotations

import re

import pytest
import pytest_asyncio
from playwright.async_api import expect

from vbostotte.models import MunicipalitySettings, Note, Team, WorkingHours

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PHONE = {"width": 360, "height": 740}
HEIGHT = "document.documentElement.scrollHeight"
FITS_WIDTH = "document.documentElement.scrollWidth <= window.innerWidth"
MENU = [  # the menu's buttons, where each leads, and the page's heading
    ("Mine aftaler", "/me/appointments", "Dine aftaler"),
    ("Hvordan har jeg det i dag?", "/me/wellbeing", "Hvordan har du det i dag?"),
    ("Min dag", "/me/day", "Min dagsplan for i dag"),
    ("Mine mål", "/me/goals", "Dine mål"),
    ("Notater fra min bostøtte", "/me/notes", "Notater fra din bostøtte"),
    ("Hvornår kan jeg skrive?", "/me/contact", "Hvornår du kan skrive til os"),
    ("Det har jeg sagt ja til", "/me/consents", "Dine samtykker"),
    ("Mine oplysninger", "/me/data", None),
]


@pytest_asyncio.fixture(loop_scope="session")  # the session's loop, as the database session it writes with
async def everything_on_it(world, db):
    """The most a start page can hold: message hours (not now), the crisis line, a shared note, the team's phone."""
    db.add(WorkingHours(staff_id=world.a.worker.id, kind="messages", weekday=2, start_minute=540, end_minute=600))
    db.add(
        MunicipalitySettings(
            municipality_id=world.a.id,
            reminder_offsets_minutes="1440",
            confirm_cutoff_minutes=180,
            crisis_line_text="Psykiatrisk akutmodtagelse: 7011 2233. Livslinien: 70 201 201 (kl. 11–05).",
        )
    )
    (await db.get(Note, world.a.signed_note_id)).shared_with_citizen = True
    (await db.get(Team, world.a.team_id)).phone = "89401234"
    await db.commit()


async def on_a_phone(page, world):
    await page.set_viewport_size(PHONE)
    await page.goto(f"/l/{world.a.citizen.link_token}")  # while the call is open the link opens it: her page then
    await page.goto("/me")


async def inside_the_first_screen(locator) -> dict:
    box = await locator.bounding_box()
    assert box is not None
    assert box["y"] >= 0 and box["y"] + box["height"] <= PHONE["height"], box
    assert box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"], box
    return box


async def test_an_open_call_is_in_the_first_screen_and_the_page_is_two_screens_at_most(
    page, site, world, everything_on_it, assert_accessible
):
    site.clock.advance(days=1, minutes=-10)  # the call opened five minutes ago
    await on_a_phone(page, world)
    card = page.locator(".now-card")
    await expect(card).to_contain_text("Din videosamtale med Worker")
    await expect(card).to_contain_text("Tirsdag 24. november kl. 08.00")
    await expect(card).to_contain_text("Hvis ingen lukker dig ind efter et par minutter, så ring til os: 89401234")
    button = card.get_by_role("link", name="Gå til samtalen")
    await inside_the_first_screen(card)
    box = await inside_the_first_screen(button)
    assert box["height"] >= 56 and box["width"] >= 280  # big, nearly the phone's width
    height = await page.evaluate(HEIGHT)
    print(f"start page with a call open: {height} px at 360×740 (call card ends at {box['y'] + box['height']:.0f})")
    assert height <= 2 * PHONE["height"]
    assert await page.evaluate(FITS_WIDTH)
    await assert_accessible(page)
    await button.click()
    await expect(page).to_have_url(re.compile(rf"/calls/{world.a.citizen.appointment_id}$"))


async def test_the_next_appointment_and_its_answers_are_in_the_first_screen(
    page, world, everything_on_it, assert_accessible
):
    await on_a_phone(page, world)
    card = page.locator(".next-card")
    await expect(card).to_contain_text(f"Agenda for {world.a.citizen.name}")
    await inside_the_first_screen(card.get_by_role("button", name="Jeg kommer"))
    await inside_the_first_screen(card.get_by_role("button", name="Jeg kan ikke komme"))
    height = await page.evaluate(HEIGHT)
    print(f"start page with the next appointment: {height} px at 360×740")
    assert height <= 2 * PHONE["height"]
    await expect(page.locator(".crisis")).to_be_visible()  # nobody answers messages now: still on the start page
    await assert_accessible(page)
    # One tap answers it, and the citizen is back on the start page with the thanks.
    await card.get_by_role("button", name="Jeg kommer").click()
    await expect(page).to_have_url(re.compile(r"/me\?done=confirmed$"))
    await expect(page.locator(".next-card")).to_contain_text("Du har sagt, at du kommer.")


async def test_every_page_of_the_menu_is_short_accessible_and_has_a_way_back(
    page, world, everything_on_it, assert_accessible
):
    await on_a_phone(page, world)
    menu = page.get_by_role("navigation", name="Min side").last
    for label, path, heading in MENU:
        link = menu.get_by_role("link", name=label)
        box = await link.bounding_box()
        assert box["height"] >= 44 and box["width"] >= 280, (label, box)
        await link.click()
        await expect(page).to_have_url(re.compile(rf"{re.escape(path)}$"))
        if heading:
            await expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            assert await page.evaluate(FITS_WIDTH), path
            await assert_accessible(page)
            await page.get_by_role("link", name="Tilbage til min side").click()
        else:
            await page.go_back()
        await expect(page).to_have_url(re.compile(r"/me$"))
        await page.set_viewport_size(PHONE)
