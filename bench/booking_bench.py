#!/usr/bin/env python3
"""Booking benchmark.

1. Appointments created per second through the JSON API: a real `vbostotte serve --demo` process
   (SQLite, pinned to CPU 0), a signed-in support worker, N concurrent clients each booking its own
   free 15-minute slots (every request: validation, authorisation, availability check, insert guarded
   by the database's no-overlap rule, audit entry, reminder planning).
2. A worker's free slots for 4 weeks with 200 existing appointments: the pure computation, and the
   same including loading hours, absences and appointments from SQLite.

    .venv/bin/python bench/booking_bench.py [--requests 400] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from pages_bench import demo_server, staff_session  # noqa: E402

from vbostotte import db as database  # noqa: E402
from vbostotte.booking import availability  # noqa: E402
from vbostotte.models import Appointment, AppointmentKind, WorkingHours  # noqa: E402

UTC = dt.UTC


async def api_throughput(requests: int, concurrency: int) -> None:
    async with demo_server() as (base, _banner):
        http = await staff_session(base)
        page = await (await http.get(base + "/worker/hours")).text()
        token = page.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        hours = {f"work_{d}_start": "00:00" for d in range(7)} | {f"work_{d}_end": "24:00" for d in range(7)}
        async with http.post(base + "/worker/hours", data={"csrf_token": token, **hours}, allow_redirects=False) as r:
            assert r.status == 303, r.status
        session = await (await http.get(base + "/api/v1/session")).json()
        citizen_id = 1  # the demo worker's first citizen
        first = dt.datetime(2027, 2, 1, 0, 0, tzinfo=UTC)  # a February with no public holidays
        slots = iter(range(requests))
        latencies: list[float] = []
        statuses: dict[int, int] = {}

        async def client():
            for n in slots:
                body = {
                    "citizen_id": citizen_id,
                    "kind": "video",
                    "duration_minutes": 15,
                    "starts_at": (first + dt.timedelta(minutes=15 * n)).isoformat(),
                }
                started = time.perf_counter()
                async with http.post(
                    base + "/api/v1/appointments",
                    json=body,
                    headers={"X-CSRF-Token": session["csrf_token"], "Idempotency-Key": f"b{n}"},
                ) as r:
                    await r.read()
                    statuses[r.status] = statuses.get(r.status, 0) + 1
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(concurrency)))
        elapsed = time.perf_counter() - began
        latencies.sort()
        print(f"API booking: {requests} appointments, {concurrency} concurrent clients, SQLite, 1 server process")
        print(
            f"  {requests / elapsed:.0f} appointments/s; p50 {statistics.median(latencies) * 1000:.1f} ms, "
            f"p99 {latencies[int(0.99 * len(latencies)) - 1] * 1000:.1f} ms; statuses {statuses}"
        )
        await http.close()


async def free_slot_timing() -> None:
    tmp = tempfile.mkdtemp(prefix="vb-bench-")
    engine = database.create_engine(f"sqlite+aiosqlite:///{tmp}/slots.db")
    await database.migrate(engine)
    async with database.sessionmaker(engine)() as db, db.begin():
        from vbostotte import demo
        from vbostotte.actors import Actor

        settings = type("S", (), {"secret_key": "bench", "base_url": "http://127.0.0.1"})()
        now = dt.datetime(2026, 11, 23, 7, tzinfo=UTC)
        await demo.seed(db, settings, now)
        worker_id, citizen_id = 3, 1
        db.add_all(
            [
                WorkingHours(staff_id=worker_id, kind="work", weekday=d, start_minute=480, end_minute=960)
                for d in range(5)
            ]
        )
        # 200 appointments in the 4 weeks of February 2027 (20 working days): 10 a day, 30 minutes, 48 minutes apart.
        day, made = dt.date(2027, 2, 1), 0
        while made < 200:
            if day.weekday() < 5 and not availability.is_public_holiday(day):
                for i in range(10):
                    start = availability.to_utc(day, 480 + i * 48)
                    db.add(
                        Appointment(
                            municipality_id=1,
                            citizen_id=citizen_id,
                            worker_id=worker_id,
                            kind=AppointmentKind.VIDEO,
                            starts_at=start,
                            ends_at=start + dt.timedelta(minutes=30),
                            created_at=now,
                            response="none",
                        )
                    )
                    made += 1
            day += dt.timedelta(days=1)
        del Actor
    first = dt.date(2027, 2, 1)
    async with database.sessionmaker(engine)() as db:
        loaded = await availability.availability(db, worker_id, first, 28)
        runs = []
        for _ in range(50):
            started = time.perf_counter()
            slots = availability.free_slots(
                loaded.windows, loaded.busy, dt.timedelta(minutes=15), dt.datetime(2026, 11, 23, tzinfo=UTC)
            )
            runs.append(time.perf_counter() - started)
        with_db = []
        for _ in range(20):
            started = time.perf_counter()
            fresh = await availability.availability(db, worker_id, first, 28)
            availability.free_slots(
                fresh.windows, fresh.busy, dt.timedelta(minutes=15), dt.datetime(2026, 11, 23, tzinfo=UTC)
            )
            with_db.append(time.perf_counter() - started)
    await engine.dispose()
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"Free slots, 4 weeks, {len(loaded.busy)} existing appointments ({len(slots)} free 15-minute starts):")
    print(
        f"  computation: median {statistics.median(runs) * 1000:.2f} ms; "
        f"with loading from SQLite: median {statistics.median(with_db) * 1000:.2f} ms (target < 20 ms)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    await free_slot_timing()
    await api_throughput(args.requests, args.concurrency)


if __name__ == "__main__":
    asyncio.run(main())
