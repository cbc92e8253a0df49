"""Every audit action code has plain wording in Danish and English (vbostotte/audit/actions.py), so the access log
never shows a supervisor ``appointment.session_log``. The codes are read from the source: a new action without
wording fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from vbostotte import audit, i18n
from vbostotte.audit import actions

SOURCE = Path(__file__).parents[2] / "vbostotte"
CODE = re.compile(r"[a-z_]+\.[a-z_]+")
# Dotted strings in the source that are not audit actions: table columns, files, loggers.
NOT_ACTIONS = re.compile(r".*\.id|.*\.(po|jsonl|ics)|vbostotte\..*")
# Codes made at run time (f"data_export.{fmt}"): each ending the source allows.
BUILT = {"data_export.json", "data_export.html"}


def codes_in_the_source() -> set[str]:
    found: set[str] = set()
    for path in SOURCE.rglob("*.py"):
        if "migrations" in path.parts or path.name == "actions.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and CODE.fullmatch(node.value):
                if not NOT_ACTIONS.fullmatch(node.value):
                    found.add(node.value)
    return found | BUILT


def test_every_action_in_the_source_has_plain_wording():
    missing = codes_in_the_source() - set(actions.ACTIONS)
    assert not missing, f"add these audit actions to vbostotte/audit/actions.py: {sorted(missing)}"


def test_the_table_has_no_action_the_source_no_longer_makes():
    stale = set(actions.ACTIONS) - codes_in_the_source() - {"audit.export"}
    assert not stale, stale


def test_every_purpose_has_plain_wording():
    purposes = {value for name, value in vars(audit.Purpose).items() if not name.startswith("_")}
    assert purposes == set(actions.PURPOSES)


@pytest.mark.parametrize("table", [actions.ACTIONS, actions.PURPOSES])
def test_the_wording_is_translated_into_danish_and_reads_as_a_sentence(table):
    danish = i18n.catalogues()["da"]
    for code, english in table.items():
        assert english[:1].isupper() and "." not in english and "_" not in english, code
        assert danish.gettext(english) != english, f"no Danish for {code}: {english!r}"


def test_the_access_log_says_what_was_done_in_the_readers_language():
    token = i18n.set_locale("da")
    try:
        assert actions.describe("citizen.view") == "Så borgerens side"
        assert actions.describe("appointment.session_log") == "Så sessionsloggen"
        assert actions.purpose_label("supervision") == "Ledelse og tilsyn"
        assert actions.describe("made.up") == "made.up"  # an unknown code is shown as it is, never an error
    finally:
        i18n.reset_locale(token)
    token = i18n.set_locale("en")
    try:
        assert actions.describe("citizen.view") == "Saw the citizen's page"
    finally:
        i18n.reset_locale(token)
