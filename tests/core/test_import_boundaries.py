"""Nothing imports openai until it is needed, and `--version` loads nothing heavy.

(Which packages the core may import at all is import-linter's job: see the
contracts in pyproject.toml and tests/lint/test_import_walls.py. This file checks
what import-linter can't: when an allowed import happens.)"""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import vllm_chat.core

WHO_IMPORTS_OPENAI = r'''
import importlib, json, sys, traceback

class Watch:
    """Notes which of our modules was being imported when openai was asked for."""
    culprits = {}
    def find_spec(self, name, path=None, target=None):
        if name == "openai":
            ours = [f.filename for f in traceback.extract_stack() if "/vllm_chat/" in f.filename]
            self.culprits[importing] = ours[-1] if ours else "?"
        return None

sys.meta_path.insert(0, Watch())
for importing in json.loads(sys.argv[1]):
    importlib.import_module(importing)
print(json.dumps(Watch.culprits))
'''


def core_modules() -> list[str]:
    return sorted(info.name for info in pkgutil.walk_packages(vllm_chat.core.__path__, "vllm_chat.core."))


def test_no_core_module_imports_openai_when_it_is_imported() -> None:
    """One interpreter imports every core module in turn and notes the module whose
    import asked for openai, and the file that asked (a module imported by another
    counts as its importer's: either way the file is named)."""
    modules = core_modules()
    assert len(modules) > 100
    out = subprocess.run([sys.executable, "-c", WHO_IMPORTS_OPENAI, json.dumps(modules)],
                         capture_output=True, text=True, check=True)
    culprits = json.loads(out.stdout.splitlines()[-1])
    assert culprits == {}, f"imported openai at import time: {culprits}"


def test_the_version_flag_loads_nothing_heavy() -> None:
    code = ("import sys; from vllm_chat.cli import main; main(['--version']); "
            "print(' '.join(m for m in ('pydantic','textual','openai','rich') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1].strip() == ""
