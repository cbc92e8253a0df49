"""Logging: text for people or JSON for a log collector (``VB_LOG_FORMAT``), each line with the request id of the
request it belongs to. Exceptions are logged with their type and stack only: an exception's message can
carry data (a database error quotes the statement's parameters), so it is never written.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging
import re
import secrets
import traceback

REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
JSON = "json"
# A record's structured fields: ``log.info("…", extra={FIELDS: {...}})`` puts them in the JSON object beside the
# message (text lines show only the message).
FIELDS = "fields"
# What a proxy may hand us as X-Request-Id (Caddy's and nginx's ids fit); anything else is replaced.
_WELL_FORMED = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{7,63}")


def request_id_from(header: str | None) -> str:
    """The proxy's request id if it is well-formed, a new random one otherwise."""
    if header and _WELL_FORMED.fullmatch(header):
        return header
    return secrets.token_hex(8)


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = REQUEST_ID.get()
        return True


def _exception_text(exc_info) -> str:
    """Type and stack of an exception, without its message (which may quote data)."""
    kind, _value, tb = exc_info
    return "".join(traceback.format_tb(tb)) + f"{kind.__module__}.{kind.__qualname__}"


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")

    def formatException(self, ei) -> str:  # noqa: N802 - logging's name
        return _exception_text(ei)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message, request_id, and exception type/stack."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", REQUEST_ID.get()),
        }
        anchor = getattr(record, "anchor", None)
        if isinstance(anchor, dict):  # an audit chain anchor (vbostotte/audit/anchors.py)
            entry["anchor"] = anchor
        for key, value in getattr(record, FIELDS, {}).items():
            entry.setdefault(key, value)  # never over the standard keys
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__qualname__
            entry["stack"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(entry, ensure_ascii=False)


def make_handler(fmt: str, stream=None) -> logging.Handler:
    """A handler writing ``fmt`` (text or json) lines with the request id to ``stream`` (default stderr)."""
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if fmt == JSON else TextFormatter())
    handler.addFilter(_RequestIdFilter())
    return handler


def configure(level: str, fmt: str) -> None:
    """Set up the root logger once for the process (replaces any earlier handlers)."""
    handler = make_handler(fmt)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # a library's warning is a log line too (JSON when the log is JSON), not raw text
