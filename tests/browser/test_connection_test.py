"""The connection test in Chromium: the citizen opens it from their page, starts it, sees their own fake camera
come back from the server's echo peer, and reads a report (direct connection, a round-trip time)."""

from __future__ import annotations

import re

import aioice.ice
import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# Synchronous on purpose: an async predicate returns a Promise, which is truthy at once.
ECHO_PLAYING = """() => { const v = document.getElementById('echo-video');
  return v.videoWidth > 0 && v.currentTime > 0; }"""


async def test_the_citizen_sees_themselves_come_back_and_reads_the_report(
    page, site, world, assert_accessible, monkeypatch
):
    # The server's aiortc peer gathers only 127.0.0.1, so the test stays on this machine.
    monkeypatch.setattr(aioice.ice, "get_host_addresses", lambda use_ipv4, use_ipv6: ["127.0.0.1"])
    await page.goto(f"/l/{world.a.citizen.link_token}")
    await page.locator("main a[href='/connection-test']").click()
    await expect(page).to_have_url(re.compile(r"/connection-test$"))
    await assert_accessible(page)

    root = page.locator("#connection-test")
    await page.locator("#start").click()
    await page.wait_for_function(ECHO_PLAYING, timeout=15000)
    await expect(page.locator("#report")).to_be_visible(timeout=10000)
    direct = await root.get_attribute("data-text-direct")
    await expect(page.locator("#report-connection")).to_have_text(direct, timeout=10000)
    await expect(page.locator("#report-camera")).to_have_text(await root.get_attribute("data-text-works"))
    # In Danish words with the right plural ("1 millisekund", "12 millisekunder"), the number as Danish writes it.
    await expect(page.locator("#report-rtt")).to_have_text(
        re.compile(r"^(1 millisekund|(?!1 )\d{1,3}(\.\d{3})* millisekunder)$"), timeout=10000
    )
    await expect(page.locator("#report-microphone")).to_have_text(
        await root.get_attribute("data-text-works"), timeout=10000
    )
    await assert_accessible(page)

    await page.locator("#stop").click()
    await expect(page.locator("#start")).to_be_visible()
    await expect(page.locator("#test-status")).to_have_text(await root.get_attribute("data-text-done"))


async def test_a_denied_camera_is_explained(page, world):
    # As if the person had refused the camera prompt.
    await page.add_init_script(
        "navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException('denied', 'NotAllowedError'));"
    )
    await page.goto(f"/l/{world.a.citizen.link_token}")
    await page.goto("/connection-test")
    await page.locator("#start").click()
    root = page.locator("#connection-test")
    await expect(page.locator("#test-status")).to_have_text(await root.get_attribute("data-text-no-camera"))
    await expect(page.locator("#start")).to_be_visible()
    await expect(page.locator("#report")).to_be_hidden()
