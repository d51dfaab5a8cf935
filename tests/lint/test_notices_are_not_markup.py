"""No words of ours are read as markup by accident: every notice (`notify`) the app shows
passes `markup=False`, so a "[keymap]" or a model's "[INST]" shows as written, however
the text was put together (the palette's commands are escaped by the app itself)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "vllm_chat"


def test_every_notice_is_shown_as_plain_text() -> None:
    loose = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "notify":
                markup = next((k.value for k in node.keywords if k.arg == "markup"), None)
                if not (isinstance(markup, ast.Constant) and markup.value is False):
                    loose.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not loose, f"notify(...) without markup=False: {loose}"
