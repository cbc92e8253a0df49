"""The signalling benchmark (bench/signaling_bench.py) still runs: one call set up with two aiortc
peers and one room through the real app, a few messages.
Only that it works is checked here; its figures are for the README, not for a test."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "bench" / "signaling_bench.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("signaling_bench", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


async def test_one_room_relays_through_the_real_app(bench):
    args = bench.parse_args(
        [
            "--rooms",
            "1",
            "--rate",
            "1:20",
            "--seconds",
            "0.5",
            "--warmup",
            "0.2",
            "--setups",
            "1",
            "--settle",
            "0",
            "--no-ref",
        ]
    )
    cores = os.sched_getaffinity(0)
    try:
        app, refs = await bench.run(args)
    finally:
        os.sched_setaffinity(0, cores)  # the bench pins its own process to one core
    relay = app["relay"][1]
    assert refs == {}
    assert len(app["setup"]) == 1 and 0 < app["setup"][0] < 20  # one call set up (after a warm-up), in seconds
    assert relay["msgs_per_s"] > 0 and relay["lost"] == 0 and relay["errors"] == 0
    assert app["memory"]["conns"] == 2
