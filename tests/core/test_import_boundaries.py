"""The core never imports Textual, and nothing imports openai until it is needed."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import vllm_chat.core


def core_modules() -> list[str]:
    names = []
    for info in pkgutil.walk_packages(vllm_chat.core.__path__, "vllm_chat.core."):
        names.append(info.name)
    return sorted(names)


def loaded_after_import(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", core_modules())
def test_a_core_module_imports_neither_textual_nor_openai(module: str) -> None:
    loaded = loaded_after_import(module)
    assert "textual" not in loaded, f"{module} imports textual"
    assert "openai" not in loaded, f"{module} imports openai at import time"


def test_the_version_flag_loads_nothing_heavy() -> None:
    code = ("import sys; from vllm_chat.cli import main; main(['--version']); "
            "print(' '.join(m for m in ('pydantic','textual','openai','rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1].strip() == ""
