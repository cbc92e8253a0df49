"""The code's shape, held: every module is listed in docs/architecture.md (and nothing listed is gone), and no folder
of product modules grows past about a dozen modules."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "architecture.md"
MAX_MODULES = 13  # per folder, its __init__ not counted ("about 12")


def modules() -> list[str]:
    found = []
    for package in ("vbostotte", "signaling"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" not in path.parts or path.parent.name == "migrations":
                found.append(path.relative_to(ROOT).as_posix())
    return sorted(found)


def test_every_module_is_listed_in_the_architecture_page_and_every_listed_one_exists():
    listed = set(re.findall(r"`((?:vbostotte|signaling)/[\w/]+\.py)`", DOC.read_text()))
    missing = [m for m in modules() if m not in listed]
    assert not missing, f"add these to docs/architecture.md: {missing}"
    gone = [m for m in listed if not (ROOT / m).exists()]
    assert not gone, f"docs/architecture.md lists modules that do not exist: {gone}"


def test_no_folder_of_modules_holds_more_than_about_a_dozen():
    folders: dict[str, int] = {}
    for module in modules():
        path = Path(module)
        if path.name != "__init__.py":
            folders[path.parent.as_posix()] = folders.get(path.parent.as_posix(), 0) + 1
    crowded = {folder: n for folder, n in folders.items() if n > MAX_MODULES}
    assert not crowded, crowded
