"""Small rooms: no module under vllm_chat/ is over 500 lines, and every one says
in a docstring what it holds."""

from __future__ import annotations

import ast

from tests.support.paths import REPO

MAX_LINES = 500

BEING_SPLIT: set[str] = set()
"""Modules over the limit that a branch in flight is splitting (none now)."""


def modules() -> list[str]:
    return sorted(str(path.relative_to(REPO)) for path in (REPO / "vllm_chat").rglob("*.py"))


def test_no_module_is_over_500_lines() -> None:
    sizes = {name: len((REPO / name).read_text(encoding="utf-8").splitlines()) for name in modules()}
    too_long = {name: lines for name, lines in sizes.items() if lines > MAX_LINES and name not in BEING_SPLIT}
    assert not too_long, f"split these into modules named for what they hold: {too_long}"
    assert all(name in sizes for name in BEING_SPLIT), "a module listed as being split is gone: drop it here"


def test_every_module_has_a_docstring() -> None:
    missing = [name for name in modules() if not ast.get_docstring(ast.parse((REPO / name).read_text("utf-8")))]
    assert not missing, f"say what each of these holds in a module docstring: {missing}"
