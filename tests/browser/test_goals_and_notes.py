"""In a real browser: a citizen on a 360 px phone opens "My goals" from their start page's menu, ticks the steps of
a goal with one tap each and sees the
celebration (the page passes axe-core's WCAG 2.1 A/AA rules); a worker's note draft is autosaved while typing
and when the page is left."""

from __future__ import annotations

import asyncio
import re

import pytest
from playwright.async_api import expect
from sqlalchemy import select

from vbostotte.models import NoteVersion

from support import reread

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

PHONE = {"width": 360, "height": 740}
FITS_WIDTH = "document.documentElement.scrollWidth <= window.innerWidth"


async def test_a_citizen_ticks_goal_steps_on_a_phone_and_sees_the_celebration(page, world, assert_accessible):
    await page.set_viewport_size(PHONE)
    await page.emulate_media(reduced_motion="reduce")
    await page.goto(f"/l/{world.a.citizen.link_token}")
    await expect(page).to_have_url(re.compile(r"/me$"))
    await page.get_by_role("link", name="Mine mål").click()
    await expect(page).to_have_url(re.compile(r"/me/goals$"))
    goal = page.locator(f"#goal-{world.a.goal_id}")
    await expect(goal.get_by_role("heading", name="Gå en tur hver dag")).to_be_visible()
    first = goal.get_by_role("button", name=re.compile("Gå til postkassen"))
    box = await first.bounding_box()
    assert box["height"] >= 56 and box["width"] >= 280  # a big tap target, nearly the phone's width
    await first.click()
    await expect(page).to_have_url(re.compile(r"/me/goals\?done=step_done"))  # back on the same page
    await expect(page.get_by_role("status").filter(has_text=re.compile("ticked off|krydset af"))).to_be_visible()
    await goal.get_by_role("button", name=re.compile("Gå rundt om søen")).click()
    await expect(page).to_have_url(re.compile(r"done=goal_achieved"))
    celebration = page.locator(".celebration[role=status]")
    await expect(celebration).to_contain_text("Gå en tur hver dag")
    # With reduced motion asked for, the celebration does not move.
    assert await celebration.evaluate("el => getComputedStyle(el).animationName") == "none"
    assert await page.evaluate(FITS_WIDTH)
    await assert_accessible(page)


async def draft_text(db, note_id: int) -> str:
    await reread(db)
    return (await db.execute(select(NoteVersion.talked_about).where(NoteVersion.note_id == note_id))).scalar_one()


async def wait_for_draft(db, note_id: int, text: str) -> str:
    """The draft's text once it holds ``text`` (or as it is after ten seconds)."""
    for _ in range(50):
        current = await draft_text(db, note_id)
        if text in current:
            return current
        await asyncio.sleep(0.2)
    return current


async def test_a_note_draft_is_autosaved_while_typing_and_when_the_page_is_left(page, world, log_in, db):
    note_id = world.a.note_id
    await log_in(world.a.worker)
    await page.goto(f"/notes/{note_id}")
    field = page.locator("main textarea[name=talked_about]")
    await field.fill("Vi talte om at handle ind")
    await expect(page.locator("#autosave-status")).to_contain_text(re.compile(r"\d\d[.:]\d\d"))
    assert await wait_for_draft(db, note_id, "Vi talte om at handle ind") == "Vi talte om at handle ind"
    # Typed, and the page left at once (no Save): the pagehide autosave (fetch with keepalive) keeps the text.
    await field.fill("Vi talte om at handle ind og om søvn")
    await page.goto("/worker")
    assert await wait_for_draft(db, note_id, "og om søvn") == "Vi talte om at handle ind og om søvn"
