#!/usr/bin/env python3
"""Call screen benchmark: how long from opening the citizen's personal link to the first video frame of the worker,
in Chromium and in Firefox ESR.

Starts `vbostotte serve --demo` as its own process on a fresh SQLite database (pinned to CPU 0 with taskset when
available; this process and the browsers on CPU 1; with --apart the worker's Chromium on CPU 0 beside the server, so
the citizen's browser has a core of its own, as her phone would), adds per browser a worker, a citizen with a personal link and a
video session whose call is open, and has the worker wait in the call in Chromium (Playwright), letting in whoever
waits at once.
Then, RUNS times per browser, a citizen in a fresh browser context (a 360×740 phone) opens the link (it opens the
call page while the call is open), taps Join as soon as her own picture shows (the page makes the taps itself, bench/call_screen_probe.js,
so no driver round trip is counted), and the time to the first decoded frame of the worker's video is taken
(getStats every 10 ms); she leaves, and the next run starts. Firefox is driven by puppeteer-core over WebDriver BiDi
(bench/firefox_citizen_bench.mjs; `npm ci` first). Loopback, fake camera and microphone, instant taps: the figure is
what the software costs, not a person's or a network's time.

    .venv/bin/python bench/call_screen_bench.py [--runs 20] [--steps] [--apart]

Prints the median and p95 per browser (--steps: also the median time of each step of joining). Talks only to
127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import secrets
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pages_bench import ROOT, free_port, start_server, wait_ready  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
FIREFOX = "/usr/bin/firefox-esr"
FIREFOX_CITIZEN = Path(__file__).with_name("firefox_citizen_bench.mjs")
PASSWORD = "bench-call-screen-2026"
MAX_RUNS = 29  # a citizen may ask for 30 join tickets in 10 minutes (calls.TICKETS_PER_WINDOW)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    "--allow-loopback-in-peer-connection",
]
# Before the page's script: tap the call link and Join the moment they can be tapped, note when the first video frame
# from anyone else has been decoded (getStats every 10 ms) and when each step of joining happened (window.__t).
FIRST_FRAME = Path(__file__).with_name("call_screen_probe.js").read_text()
# The worker lets in whoever starts waiting, the moment the "Let … in" button appears.
AUTO_ADMIT = """() => {
  const list = document.getElementById("waiting-list");
  const admit = () => list.querySelectorAll(".call__admit").forEach((button) => button.click());
  new MutationObserver(admit).observe(list, { childList: true });
}"""


@contextlib.asynccontextmanager
async def demo_server():
    """`vbostotte serve --demo` on a fresh data folder: yields (base URL, data folder), then stops it."""
    data_dir = tempfile.mkdtemp(prefix="vb-call-bench-")
    port = free_port()
    proc, _banner = start_server(data_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base)
        yield base, data_dir
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


async def prepare(data_dir: str, tag: str) -> tuple[int, str, str]:
    """A worker, a citizen of hers with a personal link and the video consent, and a video session open now: the
    appointment, the citizen's link token and the worker's e-mail. One such call per browser measured."""
    from sqlalchemy import select

    from vbostotte import db, demo
    from vbostotte.actors import Actor
    from vbostotte.config import load_settings
    from vbostotte.identity import citizens, sessions
    from vbostotte.identity.organisation import create_staff
    from vbostotte.models import Appointment, AppointmentKind, Municipality, PersonalLink, StaffRole, Team, TeamMember
    from vbostotte.privacy import consent

    settings = load_settings({"VB_DATA_DIR": data_dir}).with_secret()
    engine = db.create_engine(settings.resolved_database_url)
    now = dt.datetime.now(dt.UTC)
    token = secrets.token_urlsafe(32)
    try:
        async with db.sessionmaker(engine)() as session, session.begin():
            municipality = (
                await session.execute(select(Municipality).where(Municipality.name == demo.MUNICIPALITY))
            ).scalar_one()
            team = (
                (await session.execute(select(Team).where(Team.municipality_id == municipality.id))).scalars().first()
            )
            system = Actor(kind="system", role="system", municipality_id=municipality.id)
            worker = await create_staff(
                session,
                system,
                municipality.id,
                email=f"bench-{tag}@bench.invalid",
                name=f"Bente {tag}",
                role=StaffRole.WORKER,
                password=PASSWORD,
                now=now,
            )
            session.add(TeamMember(team_id=team.id, staff_id=worker.id))
            citizen = await citizens.register(
                session,
                system,
                citizens.NewCitizen(name=f"Birte {tag}", preferred_name="Birte", phone=None),
                now,
                team_id=team.id,
                worker_id=worker.id,
            )
            session.add(
                PersonalLink(
                    citizen_id=citizen.id, token_hash=sessions.token_hash(token), issued_by_id=worker.id, issued_at=now
                )
            )
            staff = Actor(kind="staff", id=worker.id, municipality_id=municipality.id, role=StaffRole.WORKER.value)
            await consent.give(session, staff, citizen.id, consent.Kind.VIDEO, consent.How.IN_PERSON, now)
            appointment = Appointment(
                municipality_id=municipality.id,
                citizen_id=citizen.id,
                worker_id=worker.id,
                kind=AppointmentKind.VIDEO,
                starts_at=now + dt.timedelta(minutes=10),
                ends_at=now + dt.timedelta(minutes=55),
                created_at=now,
            )
            session.add(appointment)
            await session.flush()
            return appointment.id, token, worker.email
    finally:
        await engine.dispose()


async def worker_in_call(browser, base: str, appointment: int, email: str):
    context = await browser.new_context(viewport={"width": 1280, "height": 800}, base_url=base)
    page = await context.new_page()
    await page.goto("/login")
    await page.locator("main input[name=email]").fill(email)
    await page.locator("main input[name=password]").fill(PASSWORD)
    await page.locator("main button[type=submit]").click()
    await page.wait_for_url(lambda url: "/login" not in url)
    await page.goto(f"/calls/{appointment}")
    await page.wait_for_function("() => document.getElementById('self-video').videoWidth > 0")
    await page.locator("#join").click()
    await page.wait_for_function("() => document.getElementById('call').dataset.state === 'incall'")
    await page.evaluate(AUTO_ADMIT)
    return context, page


async def chromium_runs(
    browser, base: str, appointment: int, token: str, worker, runs: int, steps: list[dict]
) -> list[float]:
    times = []
    for _ in range(runs):
        context = await browser.new_context(viewport={"width": 360, "height": 740}, base_url=base)
        context.set_default_timeout(30000)
        await context.add_init_script(FIRST_FRAME)
        page = await context.new_page()
        opened = time.time() * 1000
        await page.goto(f"/l/{token}", wait_until="commit")  # the probe taps the call link and Join itself
        await page.wait_for_url(f"**/calls/{appointment}", wait_until="commit")
        first = await (await page.wait_for_function("() => window.__firstFrame", polling=10)).json_value()
        times.append(first - opened)
        steps.append({k: v - opened for k, v in (await page.evaluate("window.__t")).items()})
        await page.locator("#leave").click()
        await page.wait_for_url("**/me?done=call_ended")
        await context.close()
        await worker.wait_for_function("() => document.getElementById('videos').dataset.count === '0'")
    return times


async def firefox_runs(base: str, appointment: int, token: str, worker, runs: int, steps: list[dict]) -> list[float]:
    proc = await asyncio.create_subprocess_exec(
        "node",
        str(FIREFOX_CITIZEN),
        base,
        token,
        str(appointment),
        str(runs),
        FIREFOX,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    times = []
    async for line in proc.stdout:
        report = json.loads(line)
        if "error" in report:
            raise RuntimeError(report["error"])
        times.append(report["ms"])
        steps.append(report.get("steps", {}))
        await worker.wait_for_function("() => document.getElementById('videos').dataset.count === '0'")
    await proc.wait()
    return times


def breakdown(steps: list[dict]) -> str:
    """The median time of each step since the link was opened, in the order they happen (``origin``: the call page's
    navigation started)."""
    names = {name for run in steps for name in run}
    rows = [(statistics.median([run[name] for run in steps if name in run]), name) for name in names]
    return "\n".join(f"    {name:<22} {at:7.0f} ms" for at, name in sorted(rows))


def summary(name: str, times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (
        f"{name:<12} runs {len(times):>3}   median {statistics.median(times):7.0f} ms   p95 {p95:7.0f} ms   "
        f"min {ordered[0]:6.0f}   max {ordered[-1]:6.0f}"
    )


@contextlib.contextmanager
def on_cpu_0():
    """An executable that starts Chromium on CPU 0 (beside the server): the worker's browser, with ``--apart``."""
    if not shutil.which("taskset"):
        yield CHROMIUM
        return
    with tempfile.TemporaryDirectory(prefix="vb-call-bench-") as folder:
        wrapper = Path(folder) / "chromium-cpu0"
        wrapper.write_text(f'#!/bin/sh\nexec taskset -c 0 {CHROMIUM} "$@"\n')
        wrapper.chmod(0o755)
        yield str(wrapper)


async def main(runs: int, steps: bool, apart: bool) -> None:
    from playwright.async_api import async_playwright

    chromium_steps: list[dict] = []
    firefox_steps: list[dict] = []
    firefox_ready = Path(FIREFOX).exists() and (ROOT / "node_modules" / "puppeteer-core").exists()
    with on_cpu_0() as worker_chromium:
        async with demo_server() as (base, data_dir), async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            workers = browser
            if apart:
                workers = await playwright.chromium.launch(
                    executable_path=worker_chromium, headless=True, args=CHROMIUM_ARGS
                )
            try:
                appointment, token, email = await prepare(data_dir, "chromium")
                context, worker = await worker_in_call(workers, base, appointment, email)
                chromium = await chromium_runs(browser, base, appointment, token, worker, runs, chromium_steps)
                await context.close()
                firefox = []
                if firefox_ready:
                    appointment, token, email = await prepare(data_dir, "firefox")
                    context, worker = await worker_in_call(workers, base, appointment, email)
                    firefox = await firefox_runs(base, appointment, token, worker, runs, firefox_steps)
                    await context.close()
            finally:
                await browser.close()
                if apart:
                    await workers.close()
    where = "the worker's browser with the server on CPU 0" if apart else "both browsers on CPU 1"
    print(
        f"From opening the citizen's link to the first frame of the worker's video (loopback, instant taps; {where}):"
    )
    print(summary("Chromium", chromium))
    if steps:
        print(breakdown(chromium_steps))
    if firefox:
        print(summary("Firefox ESR", firefox))
        if steps:
            print(breakdown(firefox_steps))
    else:
        print("Firefox ESR  not measured: needs /usr/bin/firefox-esr and `npm ci`")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help=f"runs per browser (at most {MAX_RUNS})")
    parser.add_argument("--steps", action="store_true", help="also print the median time of each step of joining")
    parser.add_argument(
        "--apart",
        action="store_true",
        help="the worker's Chromium on CPU 0 with the server, the citizen's browser alone on CPU 1 (her own phone)",
    )
    args = parser.parse_args()
    if not 1 <= args.runs <= MAX_RUNS:
        parser.error(f"--runs must be 1 to {MAX_RUNS}")
    if not shutil.which("node"):
        print("note: Node.js is missing; Firefox ESR is not measured", file=sys.stderr)
    asyncio.run(main(args.runs, args.steps, args.apart))
