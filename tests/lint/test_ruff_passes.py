"""The whole tree passes ruff (lint and import order, as configured in pyproject.toml),
so `pytest` alone catches what `.ci/run` checks first."""

from __future__ import annotations

from tests.support.tools import output_of, run_tool


def test_ruff_finds_nothing_in_the_tree() -> None:
    result = run_tool("ruff", "check", "--no-cache", ".")
    assert result.returncode == 0, output_of(result)
