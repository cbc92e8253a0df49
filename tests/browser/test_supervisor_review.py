"""The supervisor's review pages pass axe-core (WCAG 2.1 A/AA) at 1280 and 360 px in a real Chromium."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from vbostotte.models import Appointment

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


@pytest.mark.parametrize(
    "path", ["/supervisor/statistics", "/supervisor/sessions", "/supervisor/consent", "/supervisor/access-log", "log"]
)
async def test_review_pages_are_accessible(page, world, log_in, db, assert_accessible, path):
    await log_in(world.a.supervisor)
    if path == "log":
        appointment = await db.get(Appointment, world.a.citizen.past_appointment_id)
        path = f"/supervisor/appointments/{appointment.id}/log"
    await page.goto(path)
    await expect(page.locator("main h1")).to_be_visible()
    if path.endswith("statistics"):
        await expect(page.locator("main svg[role=img]")).to_have_count(2)
    await assert_accessible(page)
