"""The connection test: a page where a signed-in person sends their camera and microphone to a server-side
echo peer (``signaling.echo``) and sees them come back, and the JSON endpoint that answers the page's offer."""

from __future__ import annotations

from aiohttp import web

from signaling.echo import Busy
from vbostotte import i18n
from vbostotte.calls import connection_test
from vbostotte.errors import InvalidInput
from vbostotte.i18n import N_
from vbostotte.web import api, base
from vbostotte.web.api_models import MAX_OFFER, Offer, SessionDescription
from vbostotte.web.keys import ECHO_PEERS
from vbostotte.web.middlewares import error_response

BUSY = N_("The connection test is busy right now. Please try again in a minute.")


async def page(request: web.Request) -> web.Response:
    """The test page: Start, see yourself come back, read the report. People who can be in a call get the STUN and
    TURN servers of a call (TURN credentials for minutes, a few times per window); others STUN only."""
    who, settings = base.actor(request), base.settings(request)
    servers = await connection_test.servers_for_page(base.db(request), who, settings, base.now(request))
    return base.render(
        request,
        "calls/connection_test.html",
        {"ice_servers": servers, "without_relay": not connection_test.takes_part_in_calls(who)},
    )


async def offer(request: web.Request) -> web.Response:
    """Answer the page's offer with an echo peer's answer (CSRF-checked JSON, any signed-in person)."""
    who = base.actor(request)
    data = await api.read_body(request, Offer, MAX_OFFER + 1024)
    servers = connection_test.servers_for_echo(who, base.settings(request))
    try:
        answer = await request.app[ECHO_PEERS].answer(data.sdp, servers)
    except Busy:
        return error_response(request, 503, i18n.gettext(BUSY))
    except ValueError:
        raise InvalidInput({"sdp": N_("This field is not valid.")}) from None
    return api.reply(SessionDescription(sdp=answer))
