"""The report thread's OS priority (vbostotte/web/reports.py): lowered by ``NICENESS`` below the thread that starts
it, never raised — a server started nice 19 must not get a report thread above its own event loop."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from vbostotte.web import reports

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="a nice value per thread: Linux")


def _in_a_thread(start_at: int | None) -> tuple[int, int]:
    """A thread's nice value before and after ``lower_own_priority`` (first set to ``start_at``, if given)."""
    found: list[int] = []

    def run() -> None:
        me = threading.get_native_id()
        if start_at is not None:
            os.setpriority(os.PRIO_PROCESS, me, start_at)  # raising one's own nice value needs no privilege
        found.append(os.getpriority(os.PRIO_PROCESS, me))
        reports.lower_own_priority()
        found.append(os.getpriority(os.PRIO_PROCESS, me))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return found[0], found[1]


def test_the_report_thread_is_lowered_below_its_starter():
    before, after = _in_a_thread(None)
    assert after == min(19, before + reports.NICENESS)


def test_a_thread_started_at_the_lowest_priority_is_never_raised():
    assert _in_a_thread(19) == (19, 19)
    assert _in_a_thread(10) == (10, 19)
