"""The worker's week: Monday to Sunday in Copenhagen time, with the previous and next weeks a click away."""

from __future__ import annotations

from support import text_of


async def test_the_week_and_its_neighbours(world, web, clock):
    await web.login(world.a.worker)  # the clock: Monday 23 November 2026, 08:00 in Copenhagen
    this_week = text_of(await web.page("/worker"))
    assert "Uge 48: mandag 23. november – søndag 29. november" in this_week
    assert "Tirsdag 24. november kl. 08.00" in this_week  # the citizen's video session tomorrow
    assert "Denne uge" not in this_week
    previous = text_of(await web.page("/worker?week=2026-11-16"))
    assert "Uge 47: mandag 16. november – søndag 22. november" in previous
    assert "Søndag 22. november kl. 08.00" in previous and "Denne uge" in previous  # yesterday's home visit
    assert "Tirsdag 24. november" not in previous
    # Any day picks its week; the next week is empty.
    assert "Ingen aftaler i denne uge." in text_of(await web.page("/worker?week=2026-12-02"))


async def test_a_week_that_is_no_date_is_refused(world, web):
    await web.login(world.a.worker)
    response = await web.get("/worker?week=next-tuesday")
    assert response.status == 422
