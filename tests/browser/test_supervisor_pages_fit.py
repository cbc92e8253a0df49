"""Issue 13: the supervisor's pages fit a 1280 px screen with a year of data (tests/year_of_data.py): at 1280x800
the document does not scroll sideways, and no table needs its own sideways scrolling either — in Danish, whose
words are the longest, and in English."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from vbostotte.models import StaffRole

from support import StaffInfo
from year_of_data import seed

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

DESKTOP = {"width": 1280, "height": 800}
# Every element wider than the page, and every table region that scrolls sideways (name, its width, room).
OVERFLOW = """() => {
  const page = document.documentElement;
  const wide = [...document.querySelectorAll("main *")]
    .filter(e => e.getBoundingClientRect().right > page.clientWidth + 1)
    .slice(0, 5).map(e => `${e.tagName.toLowerCase()}.${e.className} right=${Math.round(e.getBoundingClientRect().right)}`);
  const tables = [...document.querySelectorAll("main .table-scroll, main table")]
    .filter(e => e.scrollWidth > e.clientWidth + 1)
    .map(e => `${e.tagName.toLowerCase()}.${e.className} ${e.scrollWidth}>${e.clientWidth}`);
  return {document: page.scrollWidth - page.clientWidth, wide, tables};
}"""


@pytest.fixture
async def year(engine, _password_hash):
    return await seed(engine, password_hash=_password_hash)


async def test_every_supervisor_page_fits_1280_px_with_a_year_of_data(page, year, log_in, screenshot):
    supervisor_id, team_ids = next(iter(year.supervisors.items()))
    await log_in(
        StaffInfo(
            id=supervisor_id,
            email=f"s{supervisor_id}@year.example.dk",
            name="Leder 1",
            role=StaffRole.SUPERVISOR,
            totp_secret=year.totp_secret,
            municipality_id=year.municipality_id,
        )
    )
    called = {e["appointment_id"] for e in year.events}
    held = next(
        a["id"]
        for a in reversed(year.appointments)
        if a["id"] in called and year.citizen_team[a["citizen_id"]] in team_ids
    )
    whole_year = "from=2025-11-24&to=2026-11-22"
    paths = [
        f"/supervisor/statistics?{whole_year}",
        "/supervisor/statistics?period=month",
        "/supervisor/sessions?period=month",
        "/supervisor/consent",
        "/supervisor/access-log",
        f"/supervisor/appointments/{held}/log",
    ]
    await page.set_viewport_size(DESKTOP)
    for language in ("da", "en"):
        await page.context.add_cookies([{"name": "vb_lang", "value": language, "url": page.url}])
        for path in paths:
            await page.goto(path)
            await expect(page.locator("main h1")).to_be_visible()
            found = await page.evaluate(OVERFLOW)
            assert found == {"document": 0, "wide": [], "tables": []}, f"{path} ({language}): {found}"
            if language == "da" and path.endswith("period=month") and "statistics" in path:
                await screenshot(page, "supervisor-statistics.png")  # for the README (VB_SCREENSHOTS=1)
