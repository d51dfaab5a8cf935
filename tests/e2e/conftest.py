"""Fixtures for end-to-end tests: the installed `vllm-chat` in tmux, against a
simulated vLLM server running in this test process."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import TEST_API_KEY
from tests.support.paths import STRICT
from tests.support.tmux import TmuxApp
from vllm_chat.simserver import SimConfig, SimServer

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items, not only this folder's.
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.e2e)


@pytest.fixture(autouse=True)
def _needs_tmux() -> None:
    if shutil.which("tmux") is None:
        if STRICT:
            pytest.fail("tmux is required for the e2e tests (apt-get install tmux)")
        pytest.skip("tmux is not installed")


@pytest.fixture
def sim_url() -> Iterator[str]:
    """A simulated vLLM server in a thread that wants the suite's test key; its base URL.
    Paced like a real server: a reply streamed in under a quarter second shows no tok/s."""
    server = SimServer(SimConfig(tps=150.0, api_key=TEST_API_KEY)).start_in_thread()
    try:
        yield server.base_url
    finally:
        server.stop()


@pytest.fixture
def run_app(isolated_env: Path, tmp_path: Path) -> Iterator[Callable[..., TmuxApp]]:
    """`run_app(*args)` starts `vllm-chat ARGS` in tmux with this test's data folder and
    the suite's test key (in the environment, as users pass it)."""
    apps: list[TmuxApp] = []

    def start(*args: str, width: int = 120, height: int = 40) -> TmuxApp:
        env = {
            "VLLM_CHAT_DATA_DIR": os.environ["VLLM_CHAT_DATA_DIR"],
            "XDG_CONFIG_HOME": os.environ["XDG_CONFIG_HOME"],
            "VLLM_CHAT_API_KEY": TEST_API_KEY,
        }
        app = TmuxApp(list(args), env=env, width=width, height=height, cwd=tmp_path)
        apps.append(app)
        return app

    yield start
    for app in apps:
        app.close()
