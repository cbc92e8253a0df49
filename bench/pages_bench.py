#!/usr/bin/env python3
"""Page benchmark: how fast the server answers the pages people open most.

Starts `vbostotte serve --demo` as its own process on a fresh SQLite database (pinned to CPU 0
with taskset when available), signs in a support worker and a citizen from this process (CPU 1),
and then, for each page, keeps N concurrent clients requesting it for a fixed time. Every page
view is a real request: session lookup, audit-log append, queries, template rendering.

    .venv/bin/python bench/pages_bench.py [--seconds 5] [--concurrency 8]

Prints requests/s and latency percentiles per page. Bounded in time; talks only to 127.0.0.1.
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


def start_server(data_dir: str, port: int) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "VB_DATA_DIR": data_dir,
        "VB_STAFF_MFA": "optional",
        "VB_LOG_LEVEL": "WARNING",
        "VB_LOGIN_MAX_FAILURES_IP": "1000",
    }
    command = [sys.executable, "-m", "vbostotte", "serve", "--demo", "--port", str(port)]
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
        if "Jens" in line:
            break
    return proc, banner


@contextlib.asynccontextmanager
async def demo_server():
    """A `vbostotte serve --demo` process on a fresh data folder: yields (base URL, start-up banner), then stops it."""
    data_dir = tempfile.mkdtemp(prefix="vb-bench-")
    port = free_port()
    proc, banner = start_server(data_dir, port)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(base)
        yield base, banner
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


async def wait_ready(base: str) -> None:
    async with aiohttp.ClientSession() as http:
        for _ in range(100):
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    async with demo_server() as (base, banner):
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
            f"vbostotte page benchmark: SQLite, 1 server process, {args.concurrency} concurrent clients, "
            f"{args.seconds:.0f} s per page"
        )
        print(f"{'page':<28} {'req/s':>8} {'p50 ms':>8} {'p90 ms':>8} {'p99 ms':>8} {'errors':>7}")
        for name, http, path in pages:
            await load(http, base + path, 1.0, args.concurrency)  # warm-up
            r = await load(http, base + path, args.seconds, args.concurrency)
            print(f"{name:<28} {r['rps']:>8.0f} {r['p50']:>8.1f} {r['p90']:>8.1f} {r['p99']:>8.1f} {r['errors']:>7}")
        for http in (staff, citizen, anonymous):
            await http.close()


if __name__ == "__main__":
    asyncio.run(main())
