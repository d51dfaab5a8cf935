"""`vllm-chat --theme NAME` starts the app in that theme, over the config file's choice
and for this run only; a name no theme has falls back to the default and says which
themes there are.

The real entry point runs (`main`: argument parsing, settings, `run_tui`, the app),
with the built-in demo server; only `App.run` is made headless, with a pilot that
reads what the app shows and quits with ctrl+q.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.pilot import (
    notes,
    record_notifications,
    wait_until,
)
from vllm_chat.cli import main
from vllm_chat.core.config import tomllib
from vllm_chat.core.themes import DEFAULT_THEME
from vllm_chat.ui import images
from vllm_chat.ui.app import VllmChatApp

SHIPPED = ("vllm-night", "vllm-day", "vllm-ember", "vllm-contrast")
"""The themes vllm-chat ships."""


class _Terminal(io.StringIO):
    """Stands in for stdin on a terminal: the CLI then starts the app, not a one-shot reply."""

    def isatty(self) -> bool:
        return True


def run_app(monkeypatch: pytest.MonkeyPatch, *argv: str) -> tuple[int, dict[str, Any]]:
    """Run `vllm-chat ARGV` with a headless app; returns the exit status and what the app showed."""
    seen: dict[str, Any] = {}
    original_run = VllmChatApp.run

    async def look_and_quit(pilot: Any) -> None:
        app = pilot.app
        await wait_until(pilot, lambda: app.session.connection == "connected", message="the app to start and connect")
        seen["theme"] = app.theme
        seen["primary"] = app.current_theme.primary
        seen["notes"] = notes(app)
        await pilot.press("ctrl+q")

    def headless_run(self: VllmChatApp, **_: Any) -> Any:
        record_notifications(self)
        return original_run(self, headless=True, size=(100, 32), auto_pilot=look_and_quit)

    monkeypatch.setattr(VllmChatApp, "run", headless_run)
    monkeypatch.setattr(sys, "stdin", _Terminal())
    monkeypatch.setenv(images.RENDERER_ENV, "halfcell")
    status = main(["--demo", *argv])
    assert "theme" in seen, "the app never started"
    return status, seen


def shipped_primary(name: str) -> str:
    root = Path(__file__).resolve().parents[2] / "themes"
    return tomllib.loads((root / f"{name}.toml").read_text())["primary"]


def test_the_theme_flag_picks_the_theme_over_the_config_and_only_for_this_run(
        monkeypatch: pytest.MonkeyPatch, isolated_env: Path) -> None:
    config = isolated_env / "xdg-config" / "vllm-chat" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('theme = "vllm-ember"\n')

    status, seen = run_app(monkeypatch, "--theme", "vllm-day")

    assert status == 0
    assert seen["theme"] == "vllm-day"
    assert seen["primary"].lower() == shipped_primary("vllm-day").lower()
    assert "Theme" not in seen["notes"], "a valid theme is no news"
    assert tomllib.loads(config.read_text())["theme"] == "vllm-ember", "the flag is for this run"


def test_a_textual_builtin_theme_can_be_named_too(monkeypatch: pytest.MonkeyPatch) -> None:
    status, seen = run_app(monkeypatch, "--theme", "nord")
    assert (status, seen["theme"]) == (0, "nord")


def test_an_unknown_theme_falls_back_to_the_default_and_names_the_themes_there_are(
        monkeypatch: pytest.MonkeyPatch) -> None:
    status, seen = run_app(monkeypatch, "--theme", "no-such-theme")

    assert status == 0, "a wrong theme name is not a reason to refuse to start"
    assert seen["theme"] == DEFAULT_THEME
    notes = seen["notes"]
    assert "'no-such-theme' is not available" in notes and f"using {DEFAULT_THEME}" in notes
    assert "command palette under Theme" in notes, "it says where every theme is listed"
    for name in (*SHIPPED, "nord"):
        assert name in notes, f"the notice should name the theme {name!r}"
