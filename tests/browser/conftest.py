"""Real-browser fixtures: the real app served on 127.0.0.1, one headless Chromium per run, and an axe-core check.

Chromium is started once per run, so the browser tests and their async fixtures share the session's event loop
(``pytest.mark.asyncio(loop_scope="session")`` in each test module). The root fixtures that hold loop-bound
objects (``engine``, ``db``, ``world``) are declared again below on that loop; the served app opens its own engine
when it starts, inside the same loop.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from axe_playwright_python.async_playwright import Axe
from playwright.async_api import Browser, Page, async_playwright

from vbostotte import db as database

from support import PASSWORD, Clock, StaffInfo, World, build_world, free_port, require

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Calls: a fake camera and microphone, granted without a prompt, and loopback ICE candidates
    # (without the last one Chromium offers no 127.0.0.1 candidate and a call never connects).
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 360, "height": 740}
WCAG_A_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> Browser:
    """One headless Debian Chromium for the whole run (never a downloaded one)."""
    if not CHROMIUM.exists():
        require(False, f"Chromium ({CHROMIUM})")
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        await chromium.close()


@pytest_asyncio.fixture(loop_scope="session")
async def engine(database_url):
    engine = database.create_engine(database_url, immediate=False)
    yield engine
    await engine.dispose()


@pytest_asyncio.fixture(loop_scope="session")
async def db(engine):
    async with database.sessionmaker(engine)() as session:
        yield session


@pytest_asyncio.fixture(loop_scope="session")
async def world(engine, clock, monkeypatch, _password_hash) -> World:
    """The same two municipalities as tests/conftest.py builds, arranged on the session's loop."""
    return await build_world(engine, clock, _password_hash, monkeypatch)


@dataclass
class Site:
    """The app as a browser reaches it."""

    url: str
    clock: Clock


@pytest.fixture
def site_port() -> int:
    return free_port()


@pytest.fixture
def settings(settings, site_port):
    """The app's public address is where the browser reaches it: its Origin allow-list holds only VB_BASE_URL's."""
    return dataclasses.replace(settings, base_url=f"http://127.0.0.1:{site_port}")


@pytest_asyncio.fixture(loop_scope="session")
async def site(app, clock, settings, site_port) -> Site:
    """The real app served over TCP at its public address (127.0.0.1 and a free port), stopped after the test."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", site_port).start()
        yield Site(settings.base_url, clock)
    finally:
        await runner.cleanup()


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser, site) -> Page:
    """A fresh browser window (its own cookies) on the served app, at desktop size."""
    context = await browser.new_context(viewport=DESKTOP, base_url=site.url)
    context.set_default_timeout(5000)  # fail in seconds, not Playwright's 30 s
    try:
        yield await context.new_page()
    finally:
        await context.close()


@pytest.fixture
def enter_password(page):
    """Fill in the login form (by field name, so it works in either language) and continue."""

    async def enter(staff: StaffInfo, password: str = PASSWORD) -> None:
        await page.goto("/login")
        await page.locator("main input[name=email]").fill(staff.email)
        await page.locator("main input[name=password]").fill(password)
        await page.locator("main button[type=submit]").click()
        await page.wait_for_url("**/login/*")

    return enter


@pytest.fixture
def log_in(page, site, enter_password):
    """Log a staff member in through the browser: password, then the code from their authenticator."""

    async def log_in(staff: StaffInfo) -> None:
        await enter_password(staff)
        await page.locator("main input[name=code]").fill(staff.code(site.clock))
        await page.locator("main button[type=submit]").click()
        await page.wait_for_url(lambda url: "/login" not in url)

    return log_in


@pytest.fixture
def axe_violations():
    """Run axe-core on the page as it is now; return its WCAG 2.0/2.1 A and AA violations."""
    axe = Axe()

    async def run(page: Page) -> list[dict]:
        results = await axe.run(
            page, options={"runOnly": {"type": "tag", "values": WCAG_A_AA}, "resultTypes": ["violations"]}
        )
        return results.response["violations"]

    return run


def describe(violations: list[dict]) -> str:
    """Each violation's id and help, and the nodes that fail it."""
    lines = []
    for v in violations:
        lines.append(f"  {v['id']} ({v.get('impact')}): {v['help']}")
        lines += [f"      at {' '.join(map(str, node['target']))}" for node in v["nodes"]]
    return "\n".join(lines)


@pytest.fixture
def assert_accessible(axe_violations):
    """Check the current page with axe at desktop width and at a 360 px phone width; fail with every violation."""

    async def check(page: Page) -> None:
        report = []
        for label, size in (("desktop 1280x800", DESKTOP), ("phone 360x740", PHONE)):
            await page.set_viewport_size(size)
            violations = await axe_violations(page)
            if violations:
                report.append(f"{page.url} at {label}:\n{describe(violations)}")
        await page.set_viewport_size(DESKTOP)
        if report:
            raise AssertionError("axe-core found WCAG A/AA violations:\n" + "\n".join(report))

    return check


@pytest.fixture
def screenshot():
    """Save a PNG for the docs, only when VB_SCREENSHOTS=1 (normal runs leave the tree alone)."""

    async def save(page: Page, name: str) -> None:
        if os.environ.get("VB_SCREENSHOTS") != "1":
            return
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        await page.screenshot(path=str(SCREENSHOTS / name), full_page=True)

    return save
