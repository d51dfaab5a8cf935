"""The core type-checks: mypy, configured strictly in pyproject.toml, finds nothing in
vllm_chat/core (as Python 3.10 would run it)."""

from __future__ import annotations

import pytest

from tests.support.tools import output_of, run_tool


@pytest.mark.timeout(600)  # strict mypy with a cold cache takes minutes on a loaded machine
def test_mypy_finds_nothing_in_the_core() -> None:
    result = run_tool("mypy", timeout=600)
    assert result.returncode == 0, output_of(result)
    assert "no issues found" in result.stdout
