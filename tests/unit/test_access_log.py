"""The access log carries no personal data: a personal link's token never reaches it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import urllib.request

from vbostotte.web.access_log import loggable_path

from support import free_port


def test_personal_link_tokens_are_masked():
    assert loggable_path("/l/3f9c2a7b1d") == "/l/…"
    assert loggable_path("/citizens/12") == "/citizens/12"


def test_calendar_feed_tokens_are_masked():
    assert loggable_path("/calendar/Xq3_f9-c2a7b1dA0aZ9kLmN.ics") == "/calendar/…"
    assert loggable_path("/appointments/12.ics") == "/appointments/12.ics"


def test_a_running_server_logs_requests_without_tokens_addresses_or_queries(tmp_path):
    """Start the real server (demo data) and open a personal link; read what it logged."""
    port = free_port()
    env = {**os.environ, "VB_DATA_DIR": str(tmp_path), "VB_STAFF_MFA": "optional", "VB_LOG_LEVEL": "INFO"}
    server = subprocess.Popen(
        [sys.executable, "-m", "vbostotte", "serve", "--demo", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        banner = ""
        while "Jens" not in banner:
            line = server.stdout.readline()
            assert line, "server ended before printing its banner"
            banner += line
        link = re.search(r"(http://\S+/l/([0-9a-f]+))", banner)
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        urllib.request.urlopen(link.group(1) + "?utm=secret-query", timeout=5)
    finally:
        server.terminate()
        _, log = server.communicate(timeout=10)
    assert "GET /l/… 303" in log
    assert link.group(2) not in log and "secret-query" not in log and "127.0.0.1 " not in log
