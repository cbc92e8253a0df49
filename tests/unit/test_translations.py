"""The Danish catalogue is complete: every message in the code and templates has a Danish text, with the same
placeholders, and the running app really uses it."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from vbostotte import i18n

ROOT = Path(__file__).resolve().parents[2]
DANISH_PO = ROOT / "vbostotte" / "translations" / "da" / "LC_MESSAGES" / "messages.po"
HOW_TO_FIX = "run `make translations` and translate them"

# A printf-style conversion: %(name)s, %(num)d, %s … ("%%" is a literal per cent sign and is removed first).
CONVERSION = re.compile(r"%(?:\((\w+)\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa]")


# --- helpers (also exercised on hand-made catalogues below, so a broken check cannot pass silently) ---


def extract_template(tmp_path: Path) -> Catalog:
    """What `make translations` extracts, using babel.cfg itself, written to and read back from a .pot file."""
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh, "babel.cfg")
    template = Catalog(project="vbostotte")
    for filename, lineno, message, comments, context in extract_from_dir(ROOT, method_map, options_map):
        template.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    pot = tmp_path / "messages.pot"
    with pot.open("wb") as fh:
        write_po(fh, template, no_location=True, sort_output=True)
    with pot.open("rb") as fh:
        return read_po(fh)


def read_catalogue(path: Path, locale: str) -> Catalog:
    with path.open("rb") as fh:
        return read_po(fh, locale=locale)


def _forms(value: str | tuple | list | None) -> list[str]:
    if isinstance(value, (tuple, list)):
        return list(value)
    return [value or ""]


def _label(message: Message) -> str:
    text = message.id[0] if isinstance(message.id, (tuple, list)) else message.id
    return f"{text!r} (context {message.context!r})" if message.context else repr(text)


def untranslated(template: Catalog, translations: Catalog) -> list[str]:
    """Ids in ``template`` that ``translations`` lacks, leaves empty (any plural form) or marks fuzzy."""
    missing = []
    for message in template:
        if not message.id:
            continue  # the header
        found = translations.get(message.id, message.context)
        if found is None or found.fuzzy or not all(form.strip() for form in _forms(found.string)):
            missing.append(_label(message))
    return sorted(missing)


def untranslated_report(missing: list[str], locale: str = "da") -> str:
    return (
        f"{len(missing)} message(s) have no {locale} translation (missing, empty or fuzzy) — "
        f"{HOW_TO_FIX}:\n  " + "\n  ".join(missing)
    )


def placeholders(text: str) -> list[str]:
    return sorted(match.group(0) for match in CONVERSION.finditer(text.replace("%%", "")))


def placeholder_problems(translations: Catalog) -> list[str]:
    """Translations whose %(name)s placeholders differ from the msgid's, or that are not valid format strings
    (templates always apply ``%`` to the text, so a lone "%" would break the page)."""
    problems = []
    for message in translations:
        if not message.id or message.fuzzy:
            continue
        ids = _forms(message.id)
        wanted = placeholders(ids[-1])
        for form in _forms(message.string):
            if not form:
                continue
            got = placeholders(form)
            if got != wanted and not (len(ids) > 1 and set(got) <= set(placeholders(ids[0])) | set(wanted)):
                problems.append(f"{_label(message)}: msgid has {wanted}, translation {form!r} has {got}")
                continue
            try:
                form % {name: 1 for name in re.findall(r"%\((\w+)\)", ids[-1])}
            except (ValueError, TypeError, KeyError) as exc:
                problems.append(f"{_label(message)}: translation {form!r} is not a valid format string ({exc})")
    return problems


# --- the real catalogue ---


def test_every_message_in_the_code_has_a_danish_translation(tmp_path):
    template = extract_template(tmp_path)
    assert len(template) > 50, "extraction found almost nothing: is babel.cfg still right?"
    assert "Log in" in template and "Hello %(name)s" in template  # both a template and a placeholder message
    missing = untranslated(template, read_catalogue(DANISH_PO, "da"))
    assert not missing, untranslated_report(missing)


def test_danish_translations_keep_every_placeholder():
    problems = placeholder_problems(read_catalogue(DANISH_PO, "da"))
    assert not problems, "placeholders differ between msgid and Danish text:\n  " + "\n  ".join(problems)


def test_the_app_shows_danish_by_default_and_english_on_request():
    token = i18n.set_locale("da")
    try:
        assert i18n.gettext("Log in") == "Log ind"
        assert i18n.gettext("Hello %(name)s", name="Mette") == "Hej Mette"
        # Every Danish entry reaches the running app (none dropped as fuzzy or lost when compiling).
        for message in read_catalogue(DANISH_PO, "da"):
            if message.id and not isinstance(message.id, (tuple, list)):
                assert i18n.gettext(message.id) == message.string, message.id
    finally:
        i18n.reset_locale(token)
    token = i18n.set_locale("en")
    try:
        assert i18n.gettext("Log in") == "Log in"
        assert i18n.gettext("Hello %(name)s", name="Mette") == "Hello Mette"
    finally:
        i18n.reset_locale(token)


# --- the checks themselves can fail ---


def test_the_completeness_check_reports_a_missing_empty_or_fuzzy_translation():
    template = Catalog(locale=None)
    for text in ("Log in", "Log out", "Saved.", "Hello %(name)s"):
        template.add(text)
    translations = Catalog(locale="da")
    translations.add("Log in", "Log ind")
    translations.add("Log out", "")  # empty
    translations.add("Saved.", "Gemt.", flags=["fuzzy"])  # fuzzy: not used by the app
    # "Hello %(name)s" is missing altogether
    missing = untranslated(template, translations)
    assert missing == ["'Hello %(name)s'", "'Log out'", "'Saved.'"]
    report = untranslated_report(missing)
    assert "'Hello %(name)s'" in report and HOW_TO_FIX in report

    complete = Catalog(locale="da")
    for text, danish in (
        ("Log in", "Log ind"),
        ("Log out", "Log ud"),
        ("Saved.", "Gemt."),
        ("Hello %(name)s", "Hej %(name)s"),
    ):
        complete.add(text, danish)
    assert untranslated(template, complete) == []


def test_the_placeholder_check_reports_lost_renamed_or_broken_placeholders():
    translations = Catalog(locale="da")
    translations.add("Hello %(name)s", "Hej %(name)s")
    translations.add("%(when)s — video session with %(worker)s", "%(when)s — videosamtale")  # lost one
    translations.add("Add to %(team)s", "Tilføj til %(hold)s")  # renamed
    translations.add("Done", "100 % færdig")  # a lone % breaks template rendering
    problems = placeholder_problems(translations)
    assert len(problems) == 3
    assert any("video session" in p and "%(worker)s" in p for p in problems)
    assert any("Add to" in p and "%(hold)s" in p for p in problems)
    assert any("100 % færdig" in p for p in problems)
