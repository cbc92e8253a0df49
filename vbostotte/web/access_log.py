"""The HTTP access log, without personal data: no client address, no query string, and secret tokens
masked: a personal link's (``/l/<token>`` is a citizen's key to their page) and a calendar feed's
(``/calendar/<token>.ics`` is a worker's key to their appointments)."""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from vbostotte.web.keys import REQUEST_ID

_SECRET_PATHS = re.compile(r"^(/l/|/calendar/|/g/)[^/?#]+")  # /g/: a call guest's link


def loggable_path(path: str) -> str:
    """The request path with secrets masked."""
    return _SECRET_PATHS.sub(r"\1…", path)


class PrivateAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        self.logger.info(
            "%s %s %s %.1fms request_id=%s",
            request.method,
            loggable_path(request.path),
            response.status,
            time * 1000,
            request.get(REQUEST_ID, "-"),
        )
