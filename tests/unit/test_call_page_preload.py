"""The call page preloads exactly the modules main.js imports (docs/call-page.md, Speed): a module added to main.js
without its preload costs a round trip on every join, a preload left for a module no longer imported costs a download.
And the camera request call.html makes as the page arrives asks for what media.js's first preview asks for."""

from __future__ import annotations

import re
from pathlib import Path

WEB = Path(__file__).resolve().parents[2] / "web"
CALL_JS = WEB / "static" / "js" / "call"


def test_call_html_preloads_every_module_main_js_imports_and_no_other():
    imported = set(re.findall(r'^import .* from "\./(\w+)\.js";$', (CALL_JS / "main.js").read_text(), re.M))
    template = (WEB / "templates" / "calls" / "call.html").read_text()
    preloaded = re.search(r"{% for module in \(([^)]*)\) %}<link rel=\"modulepreload\"", template)
    assert preloaded, "call.html's modulepreload loop"
    assert set(re.findall(r'"(\w+)"', preloaded.group(1))) == imported


def test_the_early_camera_request_asks_for_what_the_first_preview_asks_for():
    template = (WEB / "templates" / "calls" / "call.html").read_text()
    early = re.search(r"getUserMedia\(\{ audio: true, video: (\{.*?\}) \}\);", template)
    video = re.search(r"^const VIDEO = (\{.*?\});", (CALL_JS / "media.js").read_text(), re.M)
    assert early and video
    assert early.group(1) == video.group(1)
