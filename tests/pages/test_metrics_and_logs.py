"""Operations: Prometheus metrics at /metrics (only for the allow-list or the token, no personal data in them),
a request id on every response and log line, JSON logs without exception messages."""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import json
import logging

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from vbostotte.app import create_app
from vbostotte.models import OutboxMessage
from vbostotte.operations import logging_setup

from support import WebClient


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """Every sample as (name, sorted labels) -> value, read with the client library's own parser."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def scrape(web: WebClient, **kw) -> dict:
    response = await web.get("/metrics", **kw)
    assert response.status == 200, response.status
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return samples(await response.text())


async def test_metrics_count_requests_by_route_name_without_personal_data(web, world, db, clock):
    await web.open_link(world.a.citizen.link_token)
    await web.get("/me")
    await web.get("/me")
    await web.get(f"/citizens/{world.a.citizen.id}")  # refused for a citizen: counted by route, not by id
    await web.get("/no/such/page")
    db.add_all(
        [
            OutboxMessage(
                municipality_id=world.a.id,
                purpose="reminder",
                channel=channel,
                recipient_kind="citizen",
                dedupe_key=f"k{n}",
                due_at=clock(),
                status=status,
                attempts=1,
                next_attempt_at=clock() - dt.timedelta(minutes=1),
                created_at=clock(),
            )
            for n, (status, channel) in enumerate(
                [("pending", "email"), ("pending", "sms"), ("sent", "email"), ("failed", "sms"), ("failed", "sms")]
            )
        ]
    )
    await db.commit()
    # The call socket is counted as it is answered, without a duration (it lasts as long as the call): an upgrade,
    # and one refused before it for a foreign Origin.
    socket = await web.client.ws_connect("/ws/calls", origin=web.origin)
    await socket.close()
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await web.client.ws_connect("/ws/calls", origin="https://elsewhere.example")

    response = await web.get("/metrics")
    text = await response.text()
    got = samples(text)
    assert got[("vb_http_requests_total", (("method", "GET"), ("route", "citizen_home"), ("status", "200")))] == 2
    assert got[("vb_http_requests_total", (("method", "GET"), ("route", "personal_link"), ("status", "303")))] == 1
    assert got[("vb_http_requests_total", (("method", "GET"), ("route", "unmatched"), ("status", "404")))] == 1
    assert ("vb_http_request_duration_seconds_count", (("route", "citizen_home"),)) in got
    assert got[("vb_http_requests_total", (("method", "GET"), ("route", "call_socket"), ("status", "101")))] == 1
    assert got[("vb_http_requests_total", (("method", "GET"), ("route", "call_socket"), ("status", "403")))] == 1
    assert ("vb_http_request_duration_seconds_count", (("route", "call_socket"),)) not in got
    assert got[("vb_outbox_backlog", ())] == 2
    assert got[("vb_reminder_failures", (("channel", "sms"),))] == 2
    assert got[("vb_outbox_messages", (("channel", "email"), ("status", "sent")))] == 1
    assert got[("vb_database_up", ())] == 1
    assert got[("vb_websockets_open", ())] == 0 and got[("vb_calls_in_progress", ())] == 0
    # No path, id, token or name anywhere in it.
    for secret in (
        world.a.citizen.link_token,
        f"/citizens/{world.a.citizen.id}",
        "/no/such/page",
        world.a.citizen.name,
        "Aarhus",
    ):
        assert secret not in text


async def test_metrics_are_refused_outside_the_allow_list_unless_the_token_is_sent(aiohttp_client, settings, clock):
    app = create_app(
        dataclasses.replace(settings, metrics_allow="10.0.0.0/8", metrics_token="scrape-token-123456"), clock=clock
    )
    web = WebClient(await aiohttp_client(app), clock)
    assert (await web.get("/metrics")).status == 404
    assert (await web.get("/metrics", headers={"Authorization": "Bearer wrong"})).status == 404
    got = await scrape(web, headers={"Authorization": "Bearer scrape-token-123456"})
    assert got[("vb_http_requests_total", (("method", "GET"), ("route", "metrics"), ("status", "404")))] == 2


async def test_every_response_carries_a_request_id_and_a_proxys_well_formed_one_is_kept(web):
    first, second = await web.get("/login"), await web.get("/login")
    assert first.headers["X-Request-Id"] != second.headers["X-Request-Id"]
    assert (await web.get("/nothing-here")).headers["X-Request-Id"]
    kept = await web.get("/login", headers={"X-Request-Id": "4f1c2a9e-7b3d-4e51-a0c2-9d8e7f6a5b4c"})
    assert kept.headers["X-Request-Id"] == "4f1c2a9e-7b3d-4e51-a0c2-9d8e7f6a5b4c"
    for bad in ("short", "with spaces in it", "x" * 200, 'quote"and<angle>brackets'):
        replaced = await web.get("/login", headers={"X-Request-Id": bad})
        assert replaced.headers["X-Request-Id"] != bad
        assert len(replaced.headers["X-Request-Id"]) == 16


def test_json_logs_carry_the_request_id_and_never_an_exceptions_message():
    stream = io.StringIO()
    logger = logging.getLogger("vbostotte.test-json")
    logger.addHandler(logging_setup.make_handler("json", stream))
    logger.propagate = False
    data_in_message = "INSERT … parameters: ('Jens Hansen', '+4520000001')"
    token = logging_setup.REQUEST_ID.set("abcdef0123456789")
    try:
        try:
            raise ValueError(data_in_message)
        except ValueError:
            logger.exception("unhandled error route=%s", "citizen_home")
    finally:
        logging_setup.REQUEST_ID.reset(token)
        logger.handlers.clear()
    line = json.loads(stream.getvalue().strip())
    assert line["request_id"] == "abcdef0123456789" and line["level"] == "ERROR"
    assert line["message"] == "unhandled error route=citizen_home" and line["exception"] == "ValueError"
    assert "Jens Hansen" not in stream.getvalue() and "+4520000001" not in stream.getvalue()


def test_text_logs_leave_out_exception_messages_too():
    formatter = logging_setup.TextFormatter()
    address = "jens@example.dk"
    try:
        raise KeyError(address)
    except KeyError as exc:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", None, (type(exc), exc, exc.__traceback__))
    record.request_id = "-"
    out = formatter.format(record)
    assert "KeyError" in out and "jens@example.dk" not in out
