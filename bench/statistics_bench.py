"""Statistics page time on a seeded year of data (SQLite): the page a supervisor opens, through HTTP.

    .venv/bin/python bench/statistics_bench.py [--runs N]

Seeds tests/year_of_data.py's year (≈21,000 appointments, ≈17,000 reminders, ≈46,000 call events) into a
temporary SQLite file, logs a supervisor in, and times GET /supervisor/statistics for a whole year and for a
month, plus the service alone. Target: under 300 ms for the page on SQLite.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import statistics
import sys
import tempfile
import time
from pathlib import Path

from aiohttp.test_utils import TestClient, TestServer

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import datetime as dt  # noqa: E402

from vbostotte import db as database  # noqa: E402
from vbostotte.app import create_app  # noqa: E402
from vbostotte.config import load_settings  # noqa: E402
from vbostotte.identity.login import hash_password  # noqa: E402
from vbostotte.models import StaffRole  # noqa: E402
from vbostotte.review import statistics as stats_service  # noqa: E402

from support import PASSWORD, Clock, StaffInfo, WebClient  # noqa: E402
from year_of_data import FIRST_DAY, WEEKS, seed  # noqa: E402


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite+aiosqlite:///{folder}/year.db"
        engine = database.create_engine(url)
        await database.migrate(engine)
        started = time.perf_counter()
        year = await seed(engine, password_hash=hash_password(PASSWORD))
        print(
            f"seeded {len(year.appointments)} appointments, {len(year.outbox)} reminders, "
            f"{len(year.events)} call events in {time.perf_counter() - started:.1f} s"
        )
        # Keep the ids, drop the seeded rows: ~300,000 Python objects that no server holds would make every
        # full garbage collection during the timing several times slower.
        municipality_id, team_ids, totp_secret = year.municipality_id, tuple(year.team_ids), year.totp_secret
        supervisor_id = next(iter(year.supervisors))
        del year
        gc.collect()
        await engine.dispose()  # as the app finds it: the seeding's write-ahead log checkpointed into the file
        engine = database.create_engine(url)
        period = stats_service.Period(FIRST_DAY, FIRST_DAY + dt.timedelta(days=7 * WEEKS - 1))
        async with database.sessionmaker(engine)() as session:
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                await stats_service.compute(session, stats_service.Scope(municipality_id, team_ids), period)
                times.append((time.perf_counter() - t) * 1000)
        print(f"service, whole year, 4 teams: p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms")
        await engine.dispose()
        clock = Clock()
        settings = load_settings(
            {},
            data_dir=Path(folder),
            database_url=url,
            secret_key="bench-" + "x" * 40,
            base_url="http://127.0.0.1",
            outbox_worker=False,
        )
        client = TestClient(TestServer(create_app(settings, clock=clock)))
        await client.start_server()
        try:
            web = WebClient(client, clock)
            info = StaffInfo(
                supervisor_id,
                f"s{supervisor_id}@year.example.dk",
                "",
                StaffRole.SUPERVISOR,
                totp_secret,
                municipality_id,
            )
            assert (await web.login(info)).status == 303
            for label, query in (
                ("whole year", "period=custom&from=2025-11-24&to=2026-11-22"),
                ("one month", "period=month&day=2026-10-01"),
            ):
                times = []
                for _ in range(runs):
                    t = time.perf_counter()
                    await web.page(f"/supervisor/statistics?{query}")
                    times.append((time.perf_counter() - t) * 1000)
                print(f"statistics page, {label}: p50 {statistics.median(times):.0f} ms, max {max(times):.0f} ms")
        finally:
            await client.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    asyncio.run(main(parser.parse_args().runs))
