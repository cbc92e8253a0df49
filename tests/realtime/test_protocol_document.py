"""docs/signaling.md documents the protocol as the code declares it: every message, error code, close code,
leave reason and limit."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from signaling import Limits
from signaling.protocol import CLIENT_MESSAGES, CLOSE_CODES, ERROR_CODES, LEAVE_REASONS, SERVER_MESSAGES

DOCUMENT = (Path(__file__).parents[2] / "docs" / "signaling.md").read_text(encoding="utf-8")


def test_every_client_message_and_its_fields_are_documented():
    client_table = DOCUMENT.split("## Messages from the client", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in client_table.splitlines() if line.startswith("| `")]
    for kind, spec in CLIENT_MESSAGES.items():
        row = next((r for r in rows if r.startswith(f"| `{kind}` |")), None)
        assert row is not None, kind
        for field in spec.fields:
            assert f"`{field}`" in row, (kind, field)


def test_every_server_message_error_code_close_code_and_reason_is_documented():
    for name in (*SERVER_MESSAGES, *ERROR_CODES, *LEAVE_REASONS):
        assert f"`{name}`" in DOCUMENT, name
    for code in CLOSE_CODES:
        assert f"| {code} |" in DOCUMENT, code


def test_every_limit_is_documented_with_its_default():
    for field in dataclasses.fields(Limits):
        default = field.default
        shown = f"{default:g}" if isinstance(default, float) else str(default)
        assert f"| `{field.name}` | {shown} |" in DOCUMENT, field.name
