"""The code's shape, held: every module is listed in docs/architecture.md (and nothing listed is gone), no folder
of product modules grows past about a dozen modules, and no modules import each other in a cycle."""

from __future__ import annotations

import ast
import graphlib
import re
from pathlib import Path

import pytest

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


def module_name(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_no_import_cycle_between_modules():
    """Every import counts, inside functions and under TYPE_CHECKING too: a dependency runs one way only
    (import-linter's contracts in pyproject.toml hold the directions, this holds that there is no way back)."""
    names = {module_name(m): m for m in modules() if "migrations" not in m}
    graph: dict[str, set[str]] = {}
    for name, path in names.items():
        package = name if path.endswith("__init__.py") else name.rpartition(".")[0]
        graph[name] = set()
        for node in ast.walk(ast.parse((ROOT / path).read_text())):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]) if node.level else ""
                module = ".".join(part for part in (base, node.module or "") if part)
                targets = [f"{module}.{alias.name}" for alias in node.names if f"{module}.{alias.name}" in names]
                targets = targets or [module]
            else:
                continue
            for target in targets:
                while target and target not in names:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    graph[name].add(target)
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as exc:
        pytest.fail(f"import cycle: {' -> '.join(exc.args[1])}")
