"""Rendering a page: every template gets the same page context (actor, CSRF token, nonce, URLs)."""

from __future__ import annotations

import os
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from vbostotte import i18n
from vbostotte.actors import ANONYMOUS
from vbostotte.web import security
from vbostotte.web.keys import ACTOR

# A static file's versioned address changes only when the file does: remembered (by prefix, folder and file name)
# instead of made again for every page, which reads and hashes the whole file each time.
_STATIC_URLS: dict[tuple[str, str, str], tuple[tuple[int, int, int], str]] = {}


def static_url(app: web.Application, filename: str) -> str:
    """A static file's address with its content's version (``?v=…``), as aiohttp makes it; made again only when the
    file changed (its modification time, size or inode)."""
    resource = app.router["static"]
    directory = str(resource.get_info()["directory"])
    try:
        stat = os.stat(os.path.join(directory, filename.lstrip("/")))
    except OSError:
        return str(resource.url_for(filename=filename))
    signature, key = (stat.st_mtime_ns, stat.st_size, stat.st_ino), (resource.canonical, directory, filename)
    cached = _STATIC_URLS.get(key)
    if cached is not None and cached[0] == signature:
        return cached[1]
    address = str(resource.url_for(filename=filename))
    _STATIC_URLS[key] = (signature, address)
    return address


def page_context(request: web.Request) -> dict[str, Any]:
    """Values every template may use."""
    app = request.app
    return {
        "actor": request.get(ACTOR, ANONYMOUS),
        "csrf_token": lambda: security.csrf_token(request),
        "csp_nonce": security.csp_nonce(request),
        "locale": i18n.get_locale(),
        "url": lambda name, **parts: str(app.router[name].url_for(**{k: str(v) for k, v in parts.items()})),
        "static": lambda filename: static_url(app, filename),
        "current_path": request.path,
    }


def render(request: web.Request, template: str, context: dict[str, Any], status: int = 200) -> web.Response:
    return aiohttp_jinja2.render_template(template, request, {**page_context(request), **context}, status=status)
