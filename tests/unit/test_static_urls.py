"""A static file's versioned address is remembered, and made again when the file changes."""

from __future__ import annotations

import os

from aiohttp import web

from vbostotte.web import rendering


def _app(folder) -> web.Application:
    app = web.Application()
    app.router.add_static("/static/", folder, name="static", append_version=True)
    return app


def test_a_static_address_is_aiohttps_and_follows_the_files_content(tmp_path):
    app, script = _app(tmp_path), tmp_path / "app.js"
    script.write_text("one();")
    first = rendering.static_url(app, "app.js")
    assert first == str(app.router["static"].url_for(filename="app.js")) and "?v=" in first
    assert rendering.static_url(app, "/app.js") == first
    script.write_text("two();")
    os.utime(script, ns=(1, 1))  # a changed file, whatever the file system's clock resolution
    second = rendering.static_url(app, "app.js")
    assert second != first and second == str(app.router["static"].url_for(filename="app.js"))
    assert rendering.static_url(app, "missing.js") == "/static/missing.js"
