"""Rendering a page: every template gets the same page context (actor, CSRF token, nonce, URLs)."""

from __future__ import annotations

from typing import Any

import aiohttp_jinja2
from aiohttp import web

from vbostotte import i18n
from vbostotte.actors import ANONYMOUS
from vbostotte.web import security
from vbostotte.web.keys import ACTOR


def page_context(request: web.Request) -> dict[str, Any]:
    """Values every template may use."""
    return {
        "actor": request.get(ACTOR, ANONYMOUS),
        "csrf_token": lambda: security.csrf_token(request),
        "csp_nonce": security.csp_nonce(request),
        "locale": i18n.get_locale(),
        "url": lambda name, **parts: str(request.app.router[name].url_for(**{k: str(v) for k, v in parts.items()})),
        "static": lambda filename: str(request.app.router["static"].url_for(filename=filename)),
        "current_path": request.path,
    }


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, {**page_context(request), **context}, status=status)
