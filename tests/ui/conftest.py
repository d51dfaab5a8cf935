"""Fixtures for Pilot tests: a simulated vLLM server and the app pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from textual.screen import Screen

from tests.conftest import TEST_API_KEY
from tests.support import headless
from tests.support.pilot import record_notifications, screen_text, wait_until
from vllm_chat.core.config import load_settings
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.app import VllmChatApp


@pytest.fixture(autouse=True)
def frames_composited_only_when_read(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A headless app composites every frame and throws it away (a fifth of the UI tests'
    CPU); here a frame is composited when a test reads the screen (see
    `tests.support.headless`). A test of the frames the terminal gets
    (`@pytest.mark.paints`) keeps every one."""
    if request.node.get_closest_marker("paints") is None:
        monkeypatch.setattr(Screen, "_compositor_refresh", headless.composite_when_read)


@pytest.fixture(autouse=True)
def half_block_images(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pin the image renderer, so what tests see doesn't depend on the terminal."""
    from vllm_chat.ui import images

    monkeypatch.setenv(images.RENDERER_ENV, "halfcell")
    images.prepare_terminal("halfcell")


@pytest.fixture
async def sim() -> AsyncIterator[SimServer]:
    """A simulated vLLM server streaming as fast as it can: most tests look at finished
    replies. (`paced_sim` is for the tests that act while a reply streams.)

    It wants the suite's test key, which `make_app` passes: every session, export and
    setting the UI tests write then goes through the end-of-suite check that no file
    holds the key."""
    async with SimServer(SimConfig(models=("sim-chat", "sim-vision"), api_key=TEST_API_KEY)) as server:
        yield server


@pytest.fixture
async def paced_sim() -> AsyncIterator[SimServer]:
    """Like `sim`, but streaming 200 tokens a second, for tests that need a reply still
    streaming when they act (scroll up, press Esc, watch it grow)."""
    config = SimConfig(tps=200.0, models=("sim-chat", "sim-vision"), api_key=TEST_API_KEY)
    async with SimServer(config) as server:
        yield server


AppFactory = Callable[..., Any]


@pytest.fixture
def make_app() -> AppFactory:
    """`async with make_app(base_url=..., **settings) as (app, pilot):` runs the app headless,
    with the suite's test key unless `api_key` is given (`demo=True`: as `--demo` runs it).
    The test starts once the chat screen is drawn and its prompt has the focus (where keys
    and pastes go)."""

    @asynccontextmanager
    async def factory(size: tuple[int, int] = (100, 32), conversation: Any = None, demo: bool = False,
                      **settings: Any) -> AsyncIterator[tuple[VllmChatApp, Any]]:
        settings.setdefault("api_key", TEST_API_KEY)
        chat = ChatSession(load_settings(settings), conversation=conversation, store=SessionStore(), demo=demo)
        app = VllmChatApp(chat)
        record_notifications(app)  # `notes(app)`: every notice, expired toasts included
        async with app.run_test(size=size, notifications=True) as pilot:
            await wait_until(pilot, lambda: app.focused is app.chat.prompt and screen_text(app).strip(),
                             message="the chat screen, drawn, with the prompt focused")
            yield app, pilot
            chat.stop()
        await chat.aclose()

    return factory
