"""Nothing imports openai until it is needed, and `--version` loads nothing heavy.

(Which packages the core may import at all is import-linter's job: see the
contracts in pyproject.toml and tests/lint/test_import_walls.py. This file checks
what import-linter can't: when an allowed import happens.)"""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import vllm_chat.core


def core_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.walk_packages(vllm_chat.core.__path__, "vllm_chat.core."))


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", core_modules())
def test_a_core_module_does_not_import_openai_when_it_is_imported(module: str) -> None:
    assert "openai" not in loaded_after_import(module), f"{module} imports openai at import time"


def test_the_version_flag_loads_nothing_heavy() -> None:
    code = ("import sys; from vllm_chat.cli import main; main(['--version']); "
            "print(' '.join(m for m in ('pydantic','textual','openai','rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1].strip() == ""
