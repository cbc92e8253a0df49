"""Where the app sends a browser and whom it takes requests from: a redirect target from a form is a path on this
site or "/" (no open redirect, however the value is disguised), and the Origin allow-list comes from the
settings (VB_BASE_URL and VB_EXTRA_ORIGINS), never from the request's Host header (DNS rebinding)."""

from __future__ import annotations

import dataclasses

import pytest

from vbostotte.app import create_app
from vbostotte.config import SettingsError, load_settings
from vbostotte.web import security
from vbostotte.web.keys import ALLOWED_ORIGINS

from support import WebClient

HOSTILE_NEXT = [
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example/",
    "/\t/evil.example/",
    "/\n/evil.example/",
    "/\r/evil.example/",
    "\t//evil.example/",
    " //evil.example/",
    "//\tevil.example/",
    "/\x0b/evil.example/",
    "/\x00/evil.example/",
    "https://evil.example/",
    "HTTPS:evil.example",
    "javascript:alert(1)",
    "%2F%2Fevil.example",
    "evil.example",
    "/\r\nSet-Cookie: vb_session=x",
    "/" + "a" * 400,
    "",
]


@pytest.mark.parametrize("value", HOSTILE_NEXT)
def test_a_redirect_target_is_a_path_on_this_site_or_the_start_page(value):
    assert security.safe_redirect_path(value) == "/"


@pytest.mark.parametrize(
    "value", ["/", "/login", "/me?done=consent_give#consents", "/citizens/12", "/%2F%2Fevil.example"]
)
def test_a_path_on_this_site_is_kept(value):
    assert security.safe_redirect_path(value) == value


def test_a_value_that_is_not_text_is_the_start_page():
    assert security.safe_redirect_path(None) == "/"
    assert security.safe_redirect_path(["/login"]) == "/"


@pytest.mark.parametrize("value", HOSTILE_NEXT)
async def test_the_language_switch_never_sends_the_browser_to_another_site(web, value):
    response = await web.post("/language", {"locale": "en", "next": value}, from_page="/login")
    assert response.status == 303
    assert response.headers["Location"] == "/"
    assert "Set-Cookie: vb_session" not in str(response.headers)


async def test_the_language_switch_returns_to_the_page_it_was_used_on(web):
    response = await web.post("/language", {"locale": "en", "next": "/login?done=logged_out"}, from_page="/login")
    assert response.status == 303 and response.headers["Location"] == "/login?done=logged_out"


REBOUND = {"Host": "evil.example", "Origin": "http://evil.example"}  # a page of evil.example, rebound to our address


async def test_a_form_post_from_a_host_that_names_itself_is_refused(web, world):
    await web.login(world.a.worker)
    revoke = f"/citizens/{world.a.citizen.id}/link/revoke"
    token = await web.csrf_from("/worker")
    refused = await web.client.post(revoke, data={"csrf_token": token}, headers=REBOUND, allow_redirects=False)
    assert refused.status == 403
    referer = await web.client.post(
        revoke,
        data={"csrf_token": token},
        allow_redirects=False,
        headers={"Host": "evil.example", "Referer": "http://evil.example/page"},
    )
    assert referer.status == 403
    accepted = await web.client.post(
        revoke, data={"csrf_token": token}, headers={"Origin": web.origin}, allow_redirects=False
    )
    assert accepted.status == 303


UPGRADE = {
    "Connection": "Upgrade",
    "Upgrade": "websocket",
    "Sec-WebSocket-Version": "13",
    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
}


async def test_a_call_socket_from_a_host_that_names_itself_is_refused_before_the_upgrade(web):
    response = await web.client.get("/ws/calls", headers={**UPGRADE, **REBOUND})
    assert response.status == 403
    own = await web.client.ws_connect("/ws/calls", origin=web.origin)  # the configured public address
    await own.close()


async def test_extra_origins_are_allowed_and_nothing_else(settings, clock, aiohttp_client, world):
    extra = dataclasses.replace(settings, extra_origins="https://Bostotte.Kommune.dk:443, http://10.0.0.5:8080/")
    app = create_app(extra, clock=clock)
    assert app[ALLOWED_ORIGINS] == {"http://127.0.0.1", "https://bostotte.kommune.dk", "http://10.0.0.5:8080"}
    web = WebClient(await aiohttp_client(app), clock)
    for origin, status in (
        ("https://bostotte.kommune.dk", 303),
        ("http://10.0.0.5:8080", 303),
        ("https://kommune.dk", 403),
        ("http://10.0.0.5", 403),
    ):
        response = await web.post(
            "/language", {"locale": "en", "next": "/login"}, from_page="/login", headers={"Origin": origin}
        )
        assert response.status == status, origin


@pytest.mark.parametrize(
    "value",
    [
        "bostotte.kommune.dk",
        "https://bostotte.kommune.dk/app",
        "ftp://kommune.dk",
        "https://",
        "https://user@kommune.dk",
        "https://kommune.dk:99999",
    ],
)
def test_a_mistyped_extra_origin_stops_the_start(settings, value):
    with pytest.raises(SettingsError, match="VB_EXTRA_ORIGINS"):
        security.allowed_origins(dataclasses.replace(settings, extra_origins=value))


def test_extra_origins_come_from_vb_extra_origins():
    settings = load_settings(
        {"VB_BASE_URL": "https://bostotte.example.dk/", "VB_EXTRA_ORIGINS": "https://video.example.dk"}
    )
    assert security.allowed_origins(settings) == {"https://bostotte.example.dk", "https://video.example.dk"}
