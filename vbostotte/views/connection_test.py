"""The connection test: a page where a signed-in person sends their camera and microphone to a server-side
echo peer (``signaling.echo``) and sees them come back, and the JSON endpoint that answers the page's offer."""

from __future__ import annotations

from aiohttp import web

from signaling.echo import Busy
from vbostotte import i18n
from vbostotte.api_schema import MAX_OFFER, OFFER, validate
from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_
from vbostotte.keys import ECHO_PEERS
from vbostotte.middlewares import error_response
from vbostotte.services import calls
from vbostotte.views import api, base

BUSY = N_("The connection test is busy right now. Please try again in a minute.")


async def page(request: web.Request) -> web.Response:
    """The test page: Start, see yourself come back, read the report."""
    base.actor(request)
    # The browser gets the same STUN/TURN servers (short-lived TURN credentials) as in a call.
    servers = calls.ice_servers_for(base.settings(request))
    return base.render(request, "calls/connection_test.html", {"ice_servers": servers})


async def offer(request: web.Request) -> web.Response:
    """Answer the page's offer with an echo peer's answer (CSRF-checked JSON, any signed-in person)."""
    base.actor(request)
    data = validate(OFFER, await api.read_json(request, MAX_OFFER + 1024))
    servers = calls.ice_servers_for(base.settings(request))
    try:
        answer = await request.app[ECHO_PEERS].answer(data["sdp"], servers)
    except Busy:
        return error_response(request, 503, i18n.gettext(BUSY))
    except ValueError:
        raise InvalidInput({"sdp": N_("This field is not valid.")}) from None
    return web.json_response({"sdp": answer})
