"""Signing in with a real browser: staff password and code, a citizen's personal link, the language switch."""

from __future__ import annotations

import re

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]


async def test_staff_log_in_with_password_and_code_then_log_out(page, site, world):
    worker = world.a.worker
    await page.goto("/")
    await expect(page).to_have_url(re.compile(r"/login$"))
    await page.get_by_role("button", name="English").click()
    await page.get_by_label("E-mail").fill(worker.email)
    await page.get_by_label("Password").fill("correct horse battery staple")
    await page.get_by_role("button", name="Continue").click()

    await expect(page).to_have_url(re.compile(r"/login/code$"))
    await page.get_by_label("Six-digit code from your authenticator app").fill(worker.code(site.clock))
    await page.get_by_role("button", name="Log in").click()

    await expect(page).to_have_url(re.compile(r"/worker$"))
    await expect(page.get_by_role("heading", level=1)).to_have_text("My week")
    await expect(page.get_by_role("link", name=world.a.citizen.name).first).to_be_visible()
    await expect(page.get_by_text(world.a.other_citizen.name)).to_have_count(0)

    await page.get_by_role("button", name="Log out").click()
    await expect(page).to_have_url(re.compile(r"/login\?done=logged_out$"))
    await expect(page.get_by_role("status")).to_have_text("You are logged out.")
    await expect(page.get_by_label("Password")).to_be_empty()
    await page.goto("/worker")  # the session is over on the server, not only in this window
    await expect(page).to_have_url(re.compile(r"/login$"))


async def test_a_citizen_opens_their_personal_link_and_sees_their_appointment(page, world):
    citizen = world.a.citizen
    await page.goto(f"/l/{citizen.link_token}")

    # The token leaves the address bar at once: the page a citizen may bookmark or share has none.
    await expect(page).to_have_url(re.compile(r"/me$"))
    assert citizen.link_token not in page.url
    await expect(page.locator("html")).to_have_attribute("lang", "da")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(citizen.preferred_name)
    appointment = page.locator("main .appointment").filter(has_text=f"Agenda for {citizen.name}")  # the next one
    await expect(appointment).to_be_visible()
    # In plain Danish words and Copenhagen time: the 24th at 8 in the morning, with the worker's first name.
    await expect(appointment).to_contain_text("Tirsdag 24. november kl. 08.00")
    await expect(appointment).to_contain_text(world.a.worker.name.split()[0])
    await expect(page.get_by_text(f"Agenda for {world.a.other_citizen.name}")).to_have_count(0)


async def test_an_unknown_link_says_it_does_not_work(page, world):
    response = await page.goto("/l/not-a-real-token-0123456789")
    assert response.status == 404
    await expect(page.get_by_role("heading", level=1)).to_be_visible()
    await page.goto("/me")  # and no citizen was signed in
    await expect(page).to_have_url(re.compile(r"/login$"))


async def test_the_language_switch_changes_the_page_language_and_back(page, world):
    await page.goto(f"/l/{world.a.citizen.link_token}")
    html = page.locator("html")
    await expect(html).to_have_attribute("lang", "da")

    await page.get_by_role("button", name="English").click()
    await expect(html).to_have_attribute("lang", "en")
    await expect(page).to_have_url(re.compile(r"/me$"))  # the same page, now in English
    await expect(page.get_by_role("heading", level=1)).to_have_text(f"Hello {world.a.citizen.preferred_name}")
    await expect(page.get_by_role("button", name="English")).to_have_attribute("aria-pressed", "true")

    await page.get_by_role("button", name="Dansk").click()
    await expect(html).to_have_attribute("lang", "da")
    await expect(page.get_by_role("button", name="Dansk")).to_have_attribute("aria-pressed", "true")
    await expect(page.locator("main")).to_contain_text("Tirsdag 24. november kl. 08.00")
