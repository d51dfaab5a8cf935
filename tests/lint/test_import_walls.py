"""The walls between the rooms hold, as import-linter checks them from the contracts
in pyproject.toml: the core imports no front end (not Textual, not Rich, not the TUI),
the simulated server imports nothing of the app, and key hints know no screen. An
import inside a function breaks a wall as surely as one at the top of a module."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.support.paths import REPO
from tests.support.tools import output_of, run_tool


def test_every_import_contract_is_kept() -> None:
    result = run_tool("lint-imports", "--no-cache")
    assert result.returncode == 0, output_of(result)
    assert "0 broken" in result.stdout


@pytest.fixture(scope="module")
def repo_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the package and its pyproject.toml, to break walls in."""
    root = tmp_path_factory.mktemp("walls")
    shutil.copytree(REPO / "vllm_chat", root / "vllm_chat", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "pyproject.toml", root / "pyproject.toml")
    return root


@pytest.mark.parametrize(("module", "imported", "contract"), [
    # The case issue 11 names: the old runtime check imported each module and missed this.
    ("vllm_chat/core/format.py", "from textual.widgets import Static", "core-has-no-front-end"),
    ("vllm_chat/core/throwaway.py", "from rich.text import Text", "core-has-no-front-end"),
    ("vllm_chat/core/throwaway.py", "from vllm_chat.ui import keys", "core-has-no-front-end"),
    ("vllm_chat/simserver/throwaway.py", "from vllm_chat.core import text", "simserver-stands-alone"),
    ("vllm_chat/ui/keys.py", "from vllm_chat.ui.screens import chat", "key-hints-know-no-screen"),
])
def test_an_import_inside_a_function_breaks_its_contract(repo_copy: Path, module: str, imported: str,
                                                         contract: str) -> None:
    path = repo_copy / module
    original = path.read_text() if path.exists() else None
    text = (original or '"""Breaks a wall."""\n') + f"\n\ndef _late() -> None:\n    {imported}\n"
    path.write_text(text)
    line = text.count("\n")
    try:
        result = run_tool("lint-imports", "--no-cache", "--contract", contract, cwd=repo_copy,
                          env={"PYTHONPATH": str(repo_copy)})
    finally:
        if original is None:
            path.unlink()
        else:
            path.write_text(original)
    assert result.returncode != 0, output_of(result)
    assert "1 broken" in result.stdout, output_of(result)
    importer = module.removesuffix(".py").replace("/", ".")
    target = imported.split()[1]
    target = target if target.startswith("vllm_chat.") else target.split(".")[0]  # a package is named whole
    assert re.search(rf"{re.escape(importer)} -> {re.escape(target)}\S* \(l\.{line}\)", result.stdout), \
        output_of(result)
