#!/usr/bin/env python3
"""Page benchmark: how fast the server answers the pages people open most.

Starts `vbostotte serve --demo` as its own process on a fresh SQLite database (pinned to CPU 0
with taskset when available), signs in a support worker and a citizen from this process (CPU 1),
and then, for each page, keeps N concurrent clients requesting it for a fixed time. Every page
view is a real request: session lookup, audit-log append, queries, template rendering.

    .venv/bin/python bench/pages_bench.py [--seconds 5] [--concurrency 8] [--mixed]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/bench_pages]

Prints requests/s, latency percentiles, the server's CPU time per request and each page's requests/s as a share of
the login page's (the goals are shares: the machine's speed and load cancel out). ``--database-url``: PostgreSQL
instead of the default SQLite file; that database (and ``<name>_mixed``) is dropped and made anew.

``--mixed`` adds the isolation run on a year of data (tests/year_of_data.py, plus a year of audit entries, about
600 a working day): the worker's week alone, then the same while two clients reload the access log and two the
year's statistics; and the access log and the statistics pages alone, one request at a time.

Bounded in time; talks only to 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
WORKER = ("anna@demo.vbostotte.dk", "demo-bostotte-2026")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def server_env(data_dir: str, database_url: str | None) -> dict[str, str]:
    env = {
        **os.environ,
        "VB_DATA_DIR": data_dir,
        "VB_STAFF_MFA": "optional",
        "VB_LOG_LEVEL": "WARNING",
        "VB_LOGIN_MAX_FAILURES_IP": "1000",
    }
    if database_url:
        env["VB_DATABASE_URL"] = database_url
    return env


async def fresh_database(url: str | None) -> None:
    """Drop and create the PostgreSQL database ``url`` names (SQLite: a new file in a new folder needs nothing)."""
    if not url or not url.startswith("postgresql"):
        return
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host, port=parsed.port or 5432, user=parsed.username, password=parsed.password, database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{parsed.database}"')
    finally:
        await conn.close()


def cpu_seconds(pid: int) -> float:
    """The process's CPU time so far (user + system), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_server(
    data_dir: str, port: int, database_url: str | None = None, *, demo: bool = True
) -> tuple[subprocess.Popen, str]:
    env = server_env(data_dir, database_url)
    command = [sys.executable, "-m", "vbostotte", "serve", *(["--demo"] if demo else []), "--port", str(port)]
    if shutil.which("taskset"):
        command = ["taskset", "-c", "0", *command]
        os.sched_setaffinity(0, {1 % os.cpu_count()})
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=ROOT)
    banner = ""
    deadline = time.monotonic() + 60
    while "/l/" not in banner or not banner.rstrip().endswith(tuple("0123456789abcdef")):
        line = proc.stdout.readline()
        if not line or time.monotonic() > deadline:
            raise RuntimeError("server did not start:\n" + banner)
        banner += line
        if "Jens" in line or (not demo and "http://" in line):
            break
    return proc, banner


@contextlib.asynccontextmanager
async def demo_server():
    """A `vbostotte serve --demo` process on a fresh data folder: yields (base URL, start-up banner), then stops it."""
    async with server() as (base, banner, _proc):
        yield base, banner


@contextlib.asynccontextmanager
async def server(database_url: str | None = None, *, data_dir: str | None = None, demo: bool = True):
    """A `vbostotte serve --demo` process on a fresh data folder and database: yields (base URL, start-up banner,
    process), then stops it. ``demo=False``: `serve` on ``data_dir``'s database as it is (seeded by the caller)."""
    data_dir = data_dir or tempfile.mkdtemp(prefix="vb-bench-")
    if demo:
        await fresh_database(database_url)
    port = free_port()
    proc, banner = start_server(data_dir, port, database_url, demo=demo)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base)
        yield base, banner, proc
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


async def wait_ready(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(600):
            try:
                async with http.get(base + "/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError("server not ready")


async def staff_session(base: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies from 127.0.0.1
    page = await (await http.get(base + "/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    async with http.post(
        base + "/login", data={"email": WORKER[0], "password": WORKER[1], "csrf_token": token}, allow_redirects=False
    ) as r:
        assert r.status == 303, r.status
    return http


async def staff_session_with_code(base: str, email: str, password: str, totp_secret: str) -> aiohttp.ClientSession:
    """Sign in with password and, when asked, the TOTP code (the year's staff have one)."""
    import pyotp

    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    page = await (await http.get(base + "/login")).text()
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    async with http.post(
        base + "/login", data={"email": email, "password": password, "csrf_token": token}, allow_redirects=False
    ) as r:
        assert r.status == 303, r.status
        step = r.headers["Location"]
    if step.endswith(("/login/code", "/login/enrol")):
        page = await (await http.get(base + step)).text()
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        code = pyotp.TOTP(totp_secret).now()
        async with http.post(base + step, data={"code": code, "csrf_token": token}, allow_redirects=False) as r:
            assert r.status == 303, r.status
    return http


async def citizen_session(base: str, link: str) -> aiohttp.ClientSession:
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))  # cookies from 127.0.0.1
    async with http.get(link, allow_redirects=False) as r:
        assert r.status == 303, r.status
    return http


async def load(http: aiohttp.ClientSession, url: str, seconds: float, concurrency: int) -> dict:
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds

    async def client():
        nonlocal errors
        while time.monotonic() < stop:
            started = time.perf_counter()
            async with http.get(url, allow_redirects=False) as r:
                await r.read()
                if r.status != 200:
                    errors += 1
            latencies.append(time.perf_counter() - started)

    began = time.monotonic()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.monotonic() - began
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "rps": len(latencies) / elapsed,
        "p50": pct(0.5),
        "p90": pct(0.9),
        "p99": pct(0.99),
        "mean": statistics.fmean(latencies) * 1000,
        "errors": errors,
    }


def row(name: str, r: dict, login_rps: float | None = None, cpu_ms: float | None = None) -> str:
    share = f"{r['rps'] / login_rps:>7.2f}" if login_rps else f"{'':>7}"
    cpu = f"{cpu_ms:>8.1f}" if cpu_ms is not None else f"{'':>8}"
    return (
        f"{name:<34} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p90']:>8.1f} {r['p99']:>8.1f} {cpu} {share} {r['errors']:>7}"
    )


HEADER = (
    f"{'page':<34} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'cpu ms':>8} {'×login':>7} {'errors':>7}"
)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--database-url", default=None, help="PostgreSQL (dropped and made anew); default SQLite")
    parser.add_argument("--mixed", action="store_true", help="also the isolation run on a year of data")
    parser.add_argument("--only-mixed", action="store_true", help="only the isolation run")
    args = parser.parse_args()
    engine_name = "PostgreSQL" if args.database_url else "SQLite"
    if not args.only_mixed:
        await standard_run(args, engine_name)
    if args.mixed or args.only_mixed:
        await mixed_run(args, engine_name)


async def standard_run(args, engine_name: str) -> None:
    async with server(args.database_url) as (base, banner, proc):
        link = re.search(r"(http://\S+/l/[0-9a-f]+)", banner).group(1)
        staff, citizen = await staff_session(base), await citizen_session(base, link)
        anonymous = aiohttp.ClientSession()
        pages = [
            ("login page (anonymous)", anonymous, "/login"),
            ("worker week + caseload", staff, "/worker"),
            ("citizen page (staff view)", staff, "/citizens/1"),
            ("citizen start page", citizen, "/me"),
            ("healthz", staff, "/healthz"),
        ]
        print(
            f"vbostotte page benchmark: {engine_name}, 1 server process, {args.concurrency} concurrent clients, "
            f"{args.seconds:.0f} s per page (cpu ms: the server's CPU time per request)"
        )
        print(HEADER)
        login_rps = None
        for name, http, path in pages:
            await load(http, base + path, 1.0, args.concurrency)  # warm-up
            cpu = cpu_seconds(proc.pid)
            r = await load(http, base + path, args.seconds, args.concurrency)
            cpu_ms = (cpu_seconds(proc.pid) - cpu) * 1000 / max(1, r["requests"])
            login_rps = login_rps or r["rps"]
            print(row(name, r, login_rps, cpu_ms))
        for http in (staff, citizen, anonymous):
            await http.close()


AUDIT_PER_DAY = 600  # page views and changes a day by 24 workers, 2 supervisors and their citizens
WEEK_OF_THE_YEAR = "2026-11-16"  # the year's last week (tests/year_of_data.py)
STATISTICS = "/supervisor/statistics?period=custom&from=2025-11-24&to=2026-11-22"
ACCESS_LOG = "/supervisor/access-log"


async def seed_year(data_dir: str, database_url: str | None) -> dict:
    """Migrate, seed tests/year_of_data.py's year and a year of hash-chained audit entries; the logins to use."""
    import datetime as dt
    import random
    from types import SimpleNamespace

    sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
    from sqlalchemy import insert, text, update

    from vbostotte import audit, db
    from vbostotte.audit import keys as audit_keys
    from vbostotte.config import load_settings
    from vbostotte.identity.login import hash_password
    from vbostotte.models import AuditEntry, AuditHead

    from support import PASSWORD
    from year_of_data import FIRST_DAY, WEEKS, seed

    await fresh_database(database_url)
    settings = load_settings(server_env(data_dir, database_url))
    engine = db.create_engine(settings.resolved_database_url)
    await db.migrate(engine)
    year = await seed(engine, password_hash=hash_password(PASSWORD))
    key_id, key = audit_keys.load(settings).current("audit")
    rnd = random.Random(18)
    workers, supervisors = sorted(year.workers), sorted(year.supervisors)
    caseload: dict[int, list[int]] = {}
    for worker, citizen in sorted(year.caseloads):
        caseload.setdefault(worker, []).append(citizen)
    citizens = sorted(year.citizen_team)
    start = dt.datetime(FIRST_DAY.year, FIRST_DAY.month, FIRST_DAY.day, 6, tzinfo=dt.UTC)
    total = AUDIT_PER_DAY * 7 * WEEKS
    step = dt.timedelta(days=7 * WEEKS) / total
    rows, prev = [], audit.GENESIS
    for number in range(1, total + 1):
        pick = rnd.random()
        if pick < 0.8:
            worker = rnd.choice(workers)
            actor = ("staff", worker, "worker")
            action, citizen, purpose = rnd.choice(
                (
                    ("citizen.view", 1, "support"),
                    ("caseload.view", 0, "caseload_overview"),
                    ("note.create", 1, "support"),
                )
            )
            citizen_id = rnd.choice(caseload.get(worker) or citizens) if citizen else None
        elif pick < 0.95:
            citizen_id = rnd.choice(citizens)
            actor, action, purpose = ("citizen", citizen_id, "citizen"), "citizen.home", "self_service"
        else:
            actor = ("staff", rnd.choice(supervisors), "supervisor")
            action, citizen_id, purpose = "statistics.view", None, "supervision"
        entry = SimpleNamespace(
            id=number,
            at=start + step * number,
            municipality_id=year.municipality_id,
            actor_kind=actor[0],
            actor_id=actor[1],
            actor_role=actor[2],
            action=action,
            citizen_id=citizen_id,
            object_type=None,
            object_id=None,
            purpose=purpose,
            outcome=audit.DENIED if rnd.random() < 0.002 else audit.ALLOWED,
            prev_hash=prev,
            key_id=key_id,
        )
        entry.hash = prev = audit.entry_hash(entry, key)
        rows.append(vars(entry))
    async with engine.begin() as conn:
        for first in range(0, len(rows), 5000):
            await conn.execute(insert(AuditEntry), rows[first : first + 5000])
        await conn.execute(update(AuditHead).where(AuditHead.id == 1).values(last_id=total, last_hash=prev))
        if engine.dialect.name == "postgresql":
            # The planner's statistics, as autovacuum keeps them on a live database: without them, right after a
            # bulk load, PostgreSQL plans the statistics' grouped query to take seconds instead of 0.1 s.
            await conn.execute(text("ANALYZE"))
    await engine.dispose()
    supervisor = supervisors[0]
    worker = next(w for w in workers if year.workers[w] in year.supervisors[supervisor])
    return {
        "password": PASSWORD,
        "totp": year.totp_secret,
        "worker": f"s{worker}@year.example.dk",
        "supervisor": f"s{supervisor}@year.example.dk",
        "appointments": len(year.appointments),
        "audit": total,
    }


async def one_at_a_time(http: aiohttp.ClientSession, url: str, runs: int) -> dict:
    times, errors = [], 0
    for _ in range(runs):
        started = time.perf_counter()
        async with http.get(url) as r:
            await r.read()
            errors += r.status != 200
        times.append((time.perf_counter() - started) * 1000)
    return {"p50": statistics.median(times), "max": max(times), "errors": errors}


async def chain_walked(http: aiohttp.ClientSession, url: str, limit: float = 600.0) -> float:
    """Seconds until the server's first walk of the whole audit chain is done (the page stops saying so)."""
    started = time.monotonic()
    while time.monotonic() - started < limit:
        async with http.get(url) as r:
            if 'class="notice chain"' not in await r.text():
                break
        await asyncio.sleep(1.0)
    return time.monotonic() - started


async def mixed_run(args, engine_name: str) -> None:
    data_dir = tempfile.mkdtemp(prefix="vb-bench-year-")
    url = args.database_url and args.database_url + "_mixed"
    started = time.perf_counter()
    year = await seed_year(data_dir, url)
    print(
        f"\nisolation run: {engine_name}, a year of data ({year['appointments']} appointments, {year['audit']} audit "
        f"entries) seeded in {time.perf_counter() - started:.0f} s; {args.seconds:.0f} s per run"
    )
    async with server(url, data_dir=data_dir, demo=False) as (base, _banner, _proc):
        worker = await staff_session_with_code(base, year["worker"], year["password"], year["totp"])
        supervisor = await staff_session_with_code(base, year["supervisor"], year["password"], year["totp"])
        week = f"{base}/worker?week={WEEK_OF_THE_YEAR}"
        cold = await one_at_a_time(supervisor, base + ACCESS_LOG, 1)  # while the server walks the whole chain
        print(f"access log, first look after start (the chain's walk under way): {cold['p50']:.0f} ms")
        walked = await chain_walked(supervisor, base + ACCESS_LOG)
        print(f"the server's walk of the whole chain done {walked:.0f} s after the first look")
        for label, path in (("access log", ACCESS_LOG), ("year's statistics", STATISTICS)):
            await one_at_a_time(supervisor, base + path, 2)
            r = await one_at_a_time(supervisor, base + path, 10)
            print(f"{label}, one at a time: p50 {r['p50']:.0f} ms, max {r['max']:.0f} ms, errors {r['errors']}")
        print(HEADER)
        await load(worker, week, 1.0, 2)
        alone = await load(worker, week, args.seconds, 2)
        print(row("worker week, 2 clients, alone", alone))
        heavy = [
            load(supervisor, base + ACCESS_LOG, args.seconds, 2),
            load(supervisor, base + STATISTICS, args.seconds, 2),
        ]
        mixed, access, stats = await asyncio.gather(load(worker, week, args.seconds, 2), *heavy)
        print(row("worker week, 2 clients, mixed", mixed))
        print(row("  beside: access log, 2 clients", access))
        print(row("  beside: statistics, 2 clients", stats))
        await worker.close()
        await supervisor.close()
    shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
