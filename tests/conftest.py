"""Suite-wide fixtures: every test gets its own data and config folders, and no
real user setting or key leaks in; at the end, no file written anywhere in the
suite's data folders may contain an API key.

The suite runs in parallel (pytest-xdist, `-n auto` in pyproject.toml): each
worker is its own pytest session with its own temporary folder, so `data_root`
(session-scoped) is per worker and each worker scans every file its tests wrote
when it finishes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

TEST_API_KEY = "sk-vllm-chat-test-7f3b9c21e4d8"
"""The key tests give servers and settings; it must never reach a file."""


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """What `-n auto` means: three workers per core. Many tests spend much of their time
    waiting (on a simulated or real server, a subprocess, a timeout they test), so more
    workers than cores keep the cores busy: on two cores the suite took 199 s with four
    workers, 163-175 s with six, 171 s with eight (more CPU lost to switching).
    `PYTEST_XDIST_AUTO_NUM_WORKERS` overrides it."""
    override = os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS")
    if override:
        return int(override)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return 3 * cores


def pytest_configure(config: pytest.Config) -> None:
    from tests.support.paths import STRICT, captures_dir

    if not hasattr(config, "workerinput"):  # once, before any worker starts
        _compile_the_package()
        _rewrite_the_tests(config)

    if STRICT and not captures_dir().exists():
        raise pytest.UsageError(f"the vLLM captures are missing at {captures_dir()} "
                                "(set VLLM_CHAT_CAPTURES); CI must not skip the conformance suite")
    if STRICT and os.environ.get("VLLM_CHAT_REAL_URL") and not os.environ.get("VLLM_CHAT_REAL_REASONING_URL"):
        raise pytest.UsageError("VLLM_CHAT_REAL_URL is set but VLLM_CHAT_REAL_REASONING_URL is not: CI runs the "
                                "reasoning checks against a real vLLM started with --reasoning-parser qwen3")
    if STRICT and os.environ.get("VLLM_CHAT_REAL_URL") and not os.environ.get("VLLM_CHAT_REAL_BASE_URL"):
        raise pytest.UsageError("VLLM_CHAT_REAL_URL is set but VLLM_CHAT_REAL_BASE_URL is not: CI runs completion "
                                "mode against a real vLLM serving a model without a chat template (VR_BASE=1)")


def _compile_the_package() -> None:
    """Write the package's bytecode, as installing it from a wheel does. In an editable
    install with PYTHONDONTWRITEBYTECODE set (as CI has it), each of the hundreds of
    `vllm-chat` processes the suite starts would compile its ~200 modules again: half a
    second of CPU each."""
    import compileall

    import vllm_chat

    compileall.compile_dir(Path(vllm_chat.__file__).parent, quiet=1)


def _rewrite_the_tests(config: pytest.Config) -> None:
    """Write the test modules' bytecode, with pytest's assertions rewritten, where every
    worker's import looks for it. Without it each worker (six on two cores) parses,
    rewrites and compiles all of them as it collects: 6 s of CPU each, every run in a
    fresh clone (pytest writes it itself only where PYTHONDONTWRITEBYTECODE is unset).
    The functions used are pytest's own, not its public API: if they move, the workers
    do the work again, as before."""
    try:
        from _pytest.assertion.rewrite import (
            PYC_TAIL,
            _read_pyc,
            _rewrite_test,
            _write_pyc,
            assertstate_key,
            get_cache_dir,
        )
    except ImportError:
        return
    if config.getoption("assertmode") != "rewrite":
        return
    state = config.stash[assertstate_key]
    for source in sorted(Path(__file__).parent.rglob("*.py")):
        if not (source.name.startswith("test_") or source.name == "conftest.py"):
            continue
        folder = get_cache_dir(source)
        pyc = folder / (source.stem + PYC_TAIL)
        if _read_pyc(source, pyc) is None:
            folder.mkdir(exist_ok=True)
            stat, code = _rewrite_test(source, config)
            _write_pyc(state, code, stat, pyc)


@pytest.fixture(autouse=True, scope="session")
def textual_at_the_suites_pace() -> None:
    """Pilot tests without the waits and work nobody looks at: CSS parsed once per
    process, idle waits in finer steps (see `tests.support.headless`)."""
    from tests.support import headless

    headless.install()


@pytest.fixture(scope="session")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The parent of every test's data folder, checked for secrets at the end."""
    root = tmp_path_factory.mktemp("vllm-chat-data")
    yield root
    from tests.support.secrets import assert_no_secret_in_tree

    assert_no_secret_in_tree(root, TEST_API_KEY)


@pytest.fixture(autouse=True)
def isolated_env(monkeypatch: pytest.MonkeyPatch, data_root: Path, request: pytest.FixtureRequest) -> Path:
    """A private data folder and config folder per test; user env settings removed."""
    for name in list(os.environ):
        if name.startswith(("VLLM_CHAT_", "OPENAI_")):
            monkeypatch.delenv(name, raising=False)
    safe = "".join(c if c.isalnum() else "_" for c in request.node.nodeid)[-80:]
    data = data_root / safe
    data.mkdir(parents=True, exist_ok=True)
    monkeypatch.setenv("VLLM_CHAT_DATA_DIR", str(data))
    config_home = data / "xdg-config"
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config_home))
    return data
