"""ICE servers for a call: STUN, and TURN with ephemeral credentials (the TURN REST scheme that coturn's
``use-auth-secret`` checks): the username is ``"<expiry unix time>:<opaque id>"`` and the password is
``base64(HMAC-SHA1(secret, username))``. Nothing long-lived reaches the browser."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Sequence


def turn_credentials(secret: str, opaque_id: str, ttl_seconds: int, now: float | None = None) -> tuple[str, str]:
    """A username and password valid until ``now + ttl_seconds``."""
    expiry = int((time.time() if now is None else now) + ttl_seconds)
    username = f"{expiry}:{opaque_id}"
    password = base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()
    return username, password


def ice_servers(
    stun_urls: Sequence[str],
    turn_urls: Sequence[str],
    secret: str,
    opaque_id: str,
    ttl_seconds: int,
    now: float | None = None,
) -> list[dict]:
    """The RTCConfiguration.iceServers list for one participant (TURN only when a secret is configured)."""
    servers: list[dict] = []
    if stun_urls:
        servers.append({"urls": list(stun_urls)})
    if turn_urls and secret:
        username, credential = turn_credentials(secret, opaque_id, ttl_seconds, now)
        servers.append({"urls": list(turn_urls), "username": username, "credential": credential})
    return servers
