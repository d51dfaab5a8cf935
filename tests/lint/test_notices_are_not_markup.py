"""No words of ours are read as markup by accident: every notice (`notify`) the app shows
passes `markup=False`, so a "[keymap]" or a model's "[INST]" shows as written, however
the text was put together (the palette's commands are escaped by the app itself)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "vllm_chat"


def notify_calls(tree: ast.AST) -> list[ast.Call]:
    """The `….notify(…)` calls in `tree`, but those inside a `notify` method: an override
    that hands its caller's choice on (`markup=markup`) decides nothing itself."""
    forwarders = {id(node) for fn in ast.walk(tree) if isinstance(fn, ast.FunctionDef) and fn.name == "notify"
                  for node in ast.walk(fn)}
    return [node for node in ast.walk(tree) if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            and node.func.attr == "notify" and id(node) not in forwarders]


def test_every_notice_is_shown_as_plain_text() -> None:
    loose = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in notify_calls(ast.parse(path.read_text(), filename=str(path))):
            markup = next((k.value for k in node.keywords if k.arg == "markup"), None)
            if not (isinstance(markup, ast.Constant) and markup.value is False):
                loose.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}")
    assert not loose, f"notify(...) without markup=False: {loose}"
