"""A server restart is invisible to a call in two real Chromium pages (issue 21, item 7), on the embedded default:
one `vbostotte serve` process, no Redis. A worker and a citizen are in a call; the process is killed (SIGKILL,
3 s down) and later stopped (SIGTERM, 1 s down) and started again on the same port each time. Both pages resume:
the citizen stays in the call (never back in the waiting room), the video keeps coming while the server is down
and after, a chat line goes through after each restart, and the page's reconnect back-off starts afresh once a
socket has opened (the second restart's first try is try 1 again). The time from the server's return to
signalling being whole is measured by bench/restart_bench.py, not asserted here."""

from __future__ import annotations

import asyncio
import re
import signal
from dataclasses import dataclass

import aiohttp
import pytest
import pytest_asyncio
from playwright.async_api import expect

from browser.test_video_call import grows, open_page
from support import PASSWORD, ServerProcess, build_world, serve_env, video_call_soon

pytestmark = [pytest.mark.browser, pytest.mark.asyncio(loop_scope="session")]

# Test instrumentation: every reconnect try the page schedules (its data-retry), in order.
RETRIES = """
(() => {
  window.__retries = [];
  document.addEventListener("DOMContentLoaded", () => {
    const call = document.getElementById("call");
    if (!call) return;
    new MutationObserver(() => window.__retries.push(Number(call.dataset.retry)))
      .observe(call, { attributes: true, attributeFilter: ["data-retry"] });
  });
})();
"""
WAITING = "Din medarbejder lukker dig ind om lidt."
BACK = "Forbindelsen er tilbage."


@dataclass
class Served:
    url: str


@pytest_asyncio.fixture(loop_scope="session")
async def real_world(engine, real_clock, monkeypatch, _password_hash):
    return await build_world(engine, real_clock, _password_hash, monkeypatch)


@pytest_asyncio.fixture(loop_scope="session")
async def call_soon(real_world, db, real_clock) -> int:
    return await video_call_soon(db, real_world, real_clock)


@pytest_asyncio.fixture(loop_scope="session")
async def served(database_url, tmp_path):
    """The app as its own OS process (embedded default), restartable on the same port."""
    server = ServerProcess("embedded", serve_env(database_url, tmp_path), tmp_path)
    async with aiohttp.ClientSession() as http:
        await server.start(http)
        try:
            yield server, http
        finally:
            server.stop()


async def statuses_since(page, start: int, wanted: str, timeout: float = 20000) -> None:
    await page.wait_for_function(
        "([start, wanted]) => window.__statuses.slice(start).includes(wanted)", arg=[start, wanted], timeout=timeout
    )


async def chat_goes_through(citizen, worker, words: str) -> None:
    await citizen.get_by_role("button", name="Mere").click()
    await citizen.get_by_role("button", name="Chat").click()
    field = citizen.get_by_label("Skriv en besked")
    await field.fill(words)
    await field.press("Enter")
    await expect(worker.locator("#chat-log li").last).to_have_text(f"Citizen: {words}")
    await expect(citizen.locator("#chat-log li").last).to_have_text(f"Dig: {words}")  # taken, not "sending"
    await citizen.keyboard.press("Escape")
    await expect(citizen.locator("#chat")).to_be_hidden()


async def test_a_restarted_server_is_invisible_to_the_call(browser, served, real_world, call_soon, real_clock):
    server, http = served
    site = Served(server.url)
    worker_context, worker = await open_page(browser, site)
    citizen_context, citizen = await open_page(browser, site, phone=True)
    await citizen_context.add_init_script(RETRIES)
    try:
        staff = real_world.a.worker
        await worker.goto("/login")
        await worker.locator("main input[name=email]").fill(staff.email)
        await worker.locator("main input[name=password]").fill(PASSWORD)
        await worker.locator("main button[type=submit]").click()
        await worker.locator("main input[name=code]").fill(staff.code(real_clock))
        await worker.locator("main button[type=submit]").click()
        await worker.wait_for_url(lambda url: "/login" not in url)
        await worker.goto(f"/calls/{call_soon}")
        await worker.get_by_role("button", name="Deltag i samtalen").click()
        await expect(worker.locator("#call-status")).to_have_text("Venter på, at de andre kommer.")

        await citizen.goto(f"/l/{real_world.a.citizen.link_token}")
        await citizen.goto(f"/calls/{call_soon}")
        await citizen.get_by_role("button", name="Deltag i samtalen").click()
        await expect(citizen.locator("#call-status")).to_have_text(WAITING)
        await worker.get_by_role("button", name="Luk Citizen ind").click()
        await grows(citizen, "frames")
        await grows(worker, "frames")
        await expect(citizen.locator("#call-status")).to_have_text("Du er med i samtalen.")

        for how, down in ((signal.SIGKILL, 3.0), (signal.SIGTERM, 1.0)):
            seen = [len(await page.evaluate("window.__statuses")) for page in (citizen, worker)]
            tries = len(await citizen.evaluate("window.__retries"))
            server.signal(how)
            await server.exited()
            await statuses_since(citizen, seen[0], "Forbindelsen blev afbrudt. Forbinder igen …")
            await grows(citizen, "frames")  # the video goes on while the server is down
            await grows(worker, "frames")
            await asyncio.sleep(down)
            await server.start(http)
            await statuses_since(citizen, seen[0], BACK)
            await statuses_since(worker, seen[1], BACK)
            await expect(citizen.locator("#call")).to_have_attribute("data-state", "incall")
            await expect(worker.locator("#waiting-list li")).to_have_count(0)  # she is not waiting to be let in
            await grows(citizen, "frames")
            await grows(worker, "frames")
            await chat_goes_through(citizen, worker, f"Er du der stadig? ({how.name})")
            retries = (await citizen.evaluate("window.__retries"))[tries:]
            assert retries and retries[0] == 1, retries  # the back-off started afresh when the last socket opened
            if how == signal.SIGKILL:
                assert max(retries) >= 3, retries  # 3 s down: several tries, each waiting longer
        statuses = await citizen.evaluate("window.__statuses")
        assert statuses.count(WAITING) == 1, statuses  # only before she was let in, never after a restart
        assert not [s for s in statuses if "mistede forbindelsen" in s], statuses
    finally:
        await citizen_context.close()
        await worker_context.close()
    assert "Traceback" not in server.log()
    assert re.search(r"recovered 2 place\(s\)", server.log())
