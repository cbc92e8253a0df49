"""The start-up banner of `vbostotte serve`: with JSON logs every line the process writes is one JSON object (the
banner, with the demo logins, is a log record with fields); with text logs (`make run`) it is the readable banner."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from vbostotte import cli, demo
from vbostotte.config import load_settings

from support import free_port

INFO = demo.DemoInfo(
    logins=[("admin@demo.example.dk", "demo-password", "admin"), ("worker@demo.example.dk", "demo-password", "worker")],
    citizen_links=[("Nina", "http://127.0.0.1:8080/l/abc123")],
)


def test_with_text_logs_the_banner_is_for_people(tmp_path, capsys):
    settings = load_settings({}, data_dir=tmp_path, staff_mfa="optional")
    cli.announce(settings, INFO)
    out = capsys.readouterr().out
    assert "Virtuel Bostøtte is running on http://127.0.0.1:8080" in out
    assert "Demo logins (password for all: demo-password):" in out and "worker@demo.example.dk" in out
    assert "http://127.0.0.1:8080/l/abc123" in out and "OPTIONAL" in out


def test_serve_demo_with_json_logs_writes_only_json_lines(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "VB_DATA_DIR": str(tmp_path / "data"),
        "VB_DATABASE_URL": "",
        "VB_LOG_FORMAT": "json",
        "VB_STAFF_MFA": "optional",
        "VB_OUTBOX_WORKER": "false",
        "VB_BASE_URL": f"http://127.0.0.1:{port}",
    }
    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with open(out, "w") as stdout, open(err, "w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "vbostotte", "serve", "--demo", "--port", str(port)],
            env=env,
            stdout=stdout,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, err.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.3)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
    lines = [line for line in (out.read_text() + err.read_text()).splitlines() if line.strip()]
    records = []
    for line in lines:
        try:
            records.append(json.loads(line))
        except ValueError:
            raise AssertionError(f"not a JSON log line: {line!r}") from None
    banner = [r for r in records if r["message"] == cli.SERVING]
    assert len(banner) == 1
    fields = banner[0]
    assert fields["base_url"] == f"http://127.0.0.1:{port}" and fields["staff_mfa"] == "optional"
    assert {login["role"] for login in fields["demo_logins"]} >= {"admin", "supervisor", "worker"}
    assert all(login["email"] and login["password"] for login in fields["demo_logins"])
    assert all(link["url"].startswith(f"http://127.0.0.1:{port}/l/") for link in fields["demo_citizen_links"])
    assert any(r["level"] == "WARNING" and "VB_STAFF_MFA=optional" in r["message"] for r in records)
