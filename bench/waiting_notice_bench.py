#!/usr/bin/env python3
"""Waiting-notice benchmark: how long from the citizen entering the waiting room until the worker's page shows it.

Starts `vbostotte serve --demo` as its own process on a fresh SQLite database (pinned to CPU 0, as
pages_bench.py does) and adds a video session of the demo worker Anna with the demo citizen Mette that is open now.
Anna's week page (/worker) is open in headless Chromium (/usr/bin/chromium, as the browser tests use); it is
never reloaded. Then, N times: Mette asks for a join ticket from her own session (the real endpoint) and joins the
call's room over the signalling WebSocket; the time is taken when the server answers "joined" (state waiting).
The page notes, with a MutationObserver, the moment the notice first shows her; the latency is the difference
(one machine, one wall clock). She then leaves, the page's notice goes away, and a random pause (0–3 s) puts the
next arrival at another point of the page's 3 s polling cycle.

    .venv/bin/python bench/waiting_notice_bench.py [--runs 20]

Prints each run and the median, p95 and maximum. Bounded in time (about a minute); talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pages_bench import WORKER, free_port, start_server, wait_ready  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
# Installed before the page's scripts: the wall-clock time (ms) the notice last went from hidden to shown.
OBSERVE = """
document.addEventListener("DOMContentLoaded", () => {
  const list = document.querySelector("#waiting-notice .waiting-notice__list");
  if (!list) return;
  window.__shownAt = 0;
  new MutationObserver(() => {
    if (!list.hidden && list.textContent.includes("venter") && !window.__shownAt) window.__shownAt = Date.now();
    if (list.hidden) window.__shownAt = 0;
  }).observe(list, { attributes: true, childList: true, subtree: true, characterData: true });
});
"""


async def open_call(data_dir: str) -> int:
    """A video session of Anna with Mette, open now (Anna's other sessions in its time are cancelled first)."""
    from sqlalchemy import select, update

    from vbostotte import db
    from vbostotte.config import load_settings
    from vbostotte.models import Appointment, AppointmentKind, Citizen, Staff

    settings = load_settings({"VB_DATA_DIR": data_dir}).with_secret()
    engine = db.create_engine(settings.resolved_database_url)
    now = dt.datetime.now(dt.UTC)
    starts, ends = now + dt.timedelta(minutes=5), now + dt.timedelta(minutes=35)
    try:
        async with db.sessionmaker(engine)() as session, session.begin():
            anna = (await session.execute(select(Staff).where(Staff.email == WORKER[0]))).scalar_one()
            mette = (await session.execute(select(Citizen).where(Citizen.preferred_name == "Mette"))).scalar_one()
            await session.execute(
                update(Appointment)
                .where(Appointment.worker_id == anna.id, Appointment.starts_at < ends, Appointment.ends_at > starts)
                .values(cancelled_at=now)
            )
            appointment = Appointment(
                municipality_id=anna.municipality_id,
                citizen_id=mette.id,
                worker_id=anna.id,
                kind=AppointmentKind.VIDEO,
                starts_at=starts,
                ends_at=ends,
                created_at=now,
                response="none",
            )
            session.add(appointment)
            await session.flush()
            return appointment.id
    finally:
        await engine.dispose()


async def citizen_session(base: str, link: str) -> tuple[aiohttp.ClientSession, str]:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies from 127.0.0.1
    async with http.get(link) as opened:
        assert opened.status == 200, opened.status
    async with http.get(base + "/me") as me:
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', await me.text()).group(1)
    return http, csrf


async def enter_waiting_room(http: aiohttp.ClientSession, base: str, csrf: str, appointment_id: int):
    """Ask for a ticket and join the room; returns (the socket, the wall-clock time it was told it waits)."""
    async with http.post(
        f"{base}/calls/{appointment_id}/ticket", headers={"X-CSRF-Token": csrf, "Origin": base}
    ) as response:
        assert response.status == 200, await response.text()
        ticket = (await response.json())["ticket"]
    ws = await http.ws_connect(base.replace("http", "ws", 1) + "/ws/calls", headers={"Origin": base})
    await ws.send_str(json.dumps({"type": "join", "ticket": ticket}))
    while True:
        message = json.loads((await ws.receive(timeout=10)).data)
        if message["type"] == "joined":
            assert message["state"] == "waiting", message
            return ws, time.time()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    data_dir = tempfile.mkdtemp(prefix="vb-waitbench-")
    port = free_port()
    proc, banner = start_server(data_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base)
        appointment_id = await open_call(data_dir)
        token = re.search(r"Mette Hansen\s+\S+/l/([0-9a-f]+)", banner).group(1)
        latencies = await measure(base, f"{base}/l/{token}", appointment_id, args.runs)
    finally:
        proc.terminate()
        proc.wait(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)
    latencies.sort()
    p95 = latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))]
    print(
        f"waiting notice on the worker's week page, {len(latencies)} runs (polling every 3 s): "
        f"median {statistics.median(latencies):.2f} s, p95 {p95:.2f} s, max {latencies[-1]:.2f} s"
    )


async def until(page, condition: str, timeout: float = 15.0) -> None:
    """Wait until ``condition`` holds on the page (asked every 50 ms: the time itself is the page's own record, so
    how often we ask does not change the figure; page.wait_for_function would need eval, which the CSP refuses)."""
    async with asyncio.timeout(timeout):
        while not await page.evaluate(condition):
            await asyncio.sleep(0.05)


async def measure(base: str, link: str, appointment_id: int, runs: int) -> list[float]:
    from playwright.async_api import async_playwright

    http, csrf = await citizen_session(base, link)
    latencies: list[float] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = await (await browser.new_context(base_url=base)).new_page()
            await page.add_init_script(OBSERVE)
            await page.goto("/login")
            await page.fill("main input[name=email]", WORKER[0])
            await page.fill("main input[name=password]", WORKER[1])
            await page.click("main button[type=submit]")
            await page.wait_for_url("**/worker")
            for run in range(runs):
                ws, entered = await enter_waiting_room(http, base, csrf, appointment_id)
                await until(page, "window.__shownAt > 0")
                took = (await page.evaluate("window.__shownAt")) / 1000 - entered
                latencies.append(took)
                print(f"run {run + 1:>2}: shown {took:.2f} s after entering the waiting room")
                await ws.send_str(json.dumps({"type": "leave"}))
                await ws.close()
                await until(page, "window.__shownAt === 0")
                await asyncio.sleep(random.uniform(0, 3))
        finally:
            await http.close()
            await browser.close()
    return latencies


if __name__ == "__main__":
    asyncio.run(main())
