"""The evaluator is pure: no module of the tracker.evaluation package imports a clock, a
database or the network (STYLE: a pure evaluation core, commits at the edges). Its inputs (the
claim's facts, the series, `today`) are passed in. This AST check fails on a direct import of
sqlalchemy, sqlmodel, httpx, tracker.sources, tracker.clock or tracker.db in any module of the
package, in any form (`import x`, `from x import y`, `from tracker import clock`, relative).
The enums the evaluator shares with storage come from tracker.models; it reads no table.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import tracker.evaluation

PACKAGE = Path(tracker.evaluation.__file__).resolve().parent
FORBIDDEN = ("sqlalchemy", "sqlmodel", "httpx", "tracker.sources", "tracker.clock", "tracker.db")
MODULES = sorted(PACKAGE.glob("*.py"))


def _forbidden_imports(source: str, package: str = "tracker.evaluation") -> list[str]:
    """`line: module` for each forbidden module the source imports (relative ones resolved)."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            found.append((node.lineno, module))
            # `from tracker import clock` imports the module tracker.clock
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return [
        f"{line}: {module}"
        for line, module in found
        if any(module == name or module.startswith(name + ".") for name in FORBIDDEN)
    ]


def test_the_package_has_one_module_per_concept() -> None:
    names = {path.stem for path in MODULES}
    assert names >= {"__init__", "model", "compare", "series", "projection", "rules"}
    assert names >= {"states", "serialise", "wording"}


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_no_clock_database_or_network_import(path: Path) -> None:
    assert _forbidden_imports(path.read_text(encoding="utf-8")) == []


def test_the_check_catches_each_forbidden_form() -> None:
    source = (
        "import sqlalchemy.orm\n"
        "from sqlmodel import Session\n"
        "import httpx\n"
        "from tracker import clock\n"
        "from tracker.sources.base import period_end\n"
        "from ..db import make_engine\n"
        "import datetime as dt\n"
        "from tracker.periods import next_period\n"
        "from .series import period_start\n"
    )
    assert _forbidden_imports(source) == [
        "1: sqlalchemy.orm",
        "2: sqlmodel",
        "2: sqlmodel.Session",
        "3: httpx",
        "4: tracker.clock",
        "5: tracker.sources.base",
        "5: tracker.sources.base.period_end",
        "6: tracker.db",
        "6: tracker.db.make_engine",
    ]
