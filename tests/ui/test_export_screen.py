"""The export dialog, driven with Pilot and writing real files: Markdown and JSON, the
suffix and the format following each other, replacing a file only after asking, and
errors shown in the dialog instead of closing it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.widgets import RadioButton

from tests.support.pilot import wait_for_screen, wait_for_text, wait_until
from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation, Message, ToolCall
from vllm_chat.core.export import to_json, to_markdown
from vllm_chat.core.session import ChatSession
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.export import (
    ExportScreen,
    default_export_path,
    format_of,
    resolve_path,
    shown_path,
    title_slug,
    with_format,
)
from vllm_chat.ui.theming import ThemeBook

NOT_YET = object()


class Host(App):
    """A bare app that shows one export dialog and keeps what it returns."""

    def __init__(self, screen: ExportScreen) -> None:
        self.themes = ThemeBook("vllm-night")
        super().__init__()
        self.export_screen = screen
        self.result: Any = NOT_YET

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self.themes.app_variables(self)

    def on_mount(self) -> None:
        self.themes.register_all(self)
        self.push_screen(self.export_screen, self.returned)

    def returned(self, value: Any) -> None:
        self.result = value


@asynccontextmanager
async def dialog(conv: Conversation, folder: Path | None) -> AsyncIterator[tuple[Host, Any, ExportScreen]]:
    app = Host(ExportScreen(ChatSession(load_settings({}), conversation=conv), folder))
    async with app.run_test(size=(110, 30)) as pilot:
        await wait_for_screen(pilot, app, ExportScreen)
        yield app, pilot, app.export_screen


async def type_path(pilot: Any, text: str) -> None:
    """Empty the path box (the cursor is at its end) and type `text`."""
    await pilot.press("ctrl+u", *text)


@pytest.fixture
def conv() -> Conversation:
    c = Conversation(title="Debugging the vLLM scheduler: stall #2", model="Qwen/Qwen3-8B",
                     base_url="http://localhost:8000/v1")
    c.messages += [
        Message(role="user", content="why does it stall?"),
        Message(role="assistant", content="Let me check.", reasoning="think first",
                tool_calls=[ToolCall(id="call-1", name="calculator", arguments='{"expression": "2+2"}')]),
        Message(role="tool", content="4", tool_call_id="call-1", name="calculator"),
        Message(role="assistant", content="Because of **batching**."),
    ]
    return c


def json_button(screen: ExportScreen) -> RadioButton:
    return screen.query_one("#export-json", RadioButton)


# --- writing ------------------------------------------------------------------------


async def test_enter_writes_markdown_to_the_suggested_file_in_the_working_folder(
        conv: Conversation, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    async with dialog(conv, None) as (app, pilot, screen):
        expected = tmp_path / "vllm-chat-debugging-the-vllm-scheduler-stall-2.md"
        assert screen.path_box.value == shown_path(expected)
        assert screen.format == "md"
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.result == expected)
    assert expected.read_text(encoding="utf-8") == to_markdown(conv)


async def test_json_is_written_when_picked_and_the_suffix_follows(conv: Conversation, tmp_path: Path) -> None:
    async with dialog(conv, tmp_path) as (app, pilot, screen):
        await pilot.press("ctrl+t")
        await wait_until(pilot, lambda: screen.format == "json")
        assert screen.path_box.value.endswith("vllm-chat-debugging-the-vllm-scheduler-stall-2.json")
        await pilot.press("enter")
        written = tmp_path / "vllm-chat-debugging-the-vllm-scheduler-stall-2.json"
        await wait_until(pilot, lambda: app.result == written)
    assert written.read_text(encoding="utf-8") == to_json(conv)


async def test_typing_a_json_suffix_picks_json_and_md_picks_markdown_again(conv: Conversation, tmp_path: Path) -> None:
    async with dialog(conv, tmp_path) as (app, pilot, screen):
        await type_path(pilot, "notes.json")
        await wait_until(pilot, lambda: json_button(screen).value and screen.format == "json")
        await type_path(pilot, "notes.md")
        await wait_until(pilot, lambda: screen.format == "md")
        await pilot.press("enter")
        # A relative path starts in the dialog's folder.
        await wait_until(pilot, lambda: app.result == tmp_path / "notes.md")
    assert (tmp_path / "notes.md").read_text(encoding="utf-8") == to_markdown(conv)


async def test_clicking_a_format_changes_the_suffix(conv: Conversation, tmp_path: Path) -> None:
    async with dialog(conv, tmp_path) as (_app, pilot, screen):
        await type_path(pilot, "chat.markdown")
        await pilot.click("#export-json", offset=(2, 0))
        await wait_until(pilot, lambda: screen.path_box.value == "chat.json")
        await pilot.click("#export-md", offset=(2, 0))
        await wait_until(pilot, lambda: screen.path_box.value == "chat.md")


async def test_an_existing_file_is_replaced_only_after_yes(conv: Conversation, tmp_path: Path) -> None:
    target = tmp_path / "chat.md"
    target.write_text("keep me")
    async with dialog(conv, tmp_path) as (app, pilot, screen):
        await type_path(pilot, "chat.md")
        await pilot.press("enter")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await wait_for_text(pilot, app, "Replace chat.md?")
        await pilot.press("n")
        await wait_until(pilot, lambda: app.screen is screen)
        assert target.read_text() == "keep me" and app.result is NOT_YET
        await pilot.press("enter")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press("y")
        await wait_until(pilot, lambda: app.result is not NOT_YET)
        assert app.result == target
    assert target.read_text(encoding="utf-8") == to_markdown(conv)


# --- errors stay in the dialog ----------------------------------------------------------


def unwritable_folder(tmp_path: Path) -> Path:
    """A folder nobody may create files in (root ignores permissions, so use /sys then)."""
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        folder = tmp_path / "locked"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    sys_folder = Path("/sys")
    try:
        (sys_folder / ".vllm-chat-probe").touch()
    except OSError:
        return sys_folder
    pytest.skip("no folder this user can't write to")


async def test_an_unwritable_folder_is_reported_in_the_dialog(conv: Conversation, tmp_path: Path) -> None:
    folder = unwritable_folder(tmp_path)
    try:
        async with dialog(conv, tmp_path) as (app, pilot, screen):
            await type_path(pilot, str(folder / "chat.md"))
            await pilot.press("enter")
            await wait_until(pilot, lambda: screen.problem.startswith(f"can't write {folder / 'chat.md'}"))
            assert app.result is NOT_YET and app.screen is screen
            await wait_for_text(pilot, app, "can't write")
            await type_path(pilot, str(tmp_path / "ok.md"))
            # Editing the path clears the message.
            await wait_until(pilot, lambda: screen.problem == "")
            await wait_for_text(pilot, app, absent=["can't write"])
            await pilot.press("enter")
            await wait_until(pilot, lambda: app.result == tmp_path / "ok.md")
    finally:
        if folder.is_relative_to(tmp_path):
            folder.chmod(0o700)


async def test_a_folder_or_a_missing_folder_is_reported_not_written(conv: Conversation, tmp_path: Path) -> None:
    (tmp_path / "existing-folder").mkdir()
    async with dialog(conv, tmp_path) as (app, pilot, screen):
        await type_path(pilot, "existing-folder")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "is a folder: give a file name" in screen.problem)
        await type_path(pilot, "nowhere/chat.md")
        await pilot.press("enter")
        await wait_until(pilot, lambda: "does not exist" in screen.problem)
        await pilot.press("ctrl+u", "enter")
        await wait_for_text(pilot, app, "Type a file name")
        assert app.result is NOT_YET and app.screen is screen
    assert sorted(p.name for p in tmp_path.iterdir()) == ["existing-folder"]


async def test_escape_closes_without_writing(conv: Conversation, tmp_path: Path) -> None:
    async with dialog(conv, tmp_path) as (app, pilot, _screen):
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.result is None)
    assert list(tmp_path.iterdir()) == []


async def test_untrusted_titles_are_shown_as_text(tmp_path: Path) -> None:
    conv = Conversation(title="[bold]x[/bold] \x1b[31mred")
    async with dialog(conv, tmp_path) as (app, pilot, screen):
        await wait_for_text(pilot, app, "“[bold]x[/bold] ␛[31mred”")
        assert screen.path_box.value.endswith("vllm-chat-bold-x-bold-31mred.md")


# --- the helpers ---------------------------------------------------------------------


@pytest.mark.parametrize(("title", "slug"), [
    ("Debugging the vLLM scheduler", "debugging-the-vllm-scheduler"),
    ("Café & crème brûlée", "cafe-creme-brulee"),
    ("日本語のタイトル", "conversation"),
    ("", "conversation"),
    ("a very long title that keeps going well past any sensible file name length",
     "a-very-long-title-that-keeps-going-well"),
])
def test_titles_become_safe_short_file_names(title: str, slug: str) -> None:
    assert title_slug(title) == slug
    assert len(title_slug(title)) <= 40


def test_the_suggested_path_uses_the_first_prompt_when_there_is_no_title(tmp_path: Path) -> None:
    conv = Conversation(messages=[Message(role="user", content="How do I tune vLLM?\nmore")])
    assert default_export_path(conv, tmp_path) == tmp_path / "vllm-chat-how-do-i-tune-vllm.md"


@pytest.mark.parametrize(("text", "fmt", "expected"), [
    ("chat.md", "json", "chat.json"),
    ("chat.JSON", "md", "chat.md"),
    ("chat.markdown", "json", "chat.json"),
    ("chat.md", "md", "chat.md"),
    ("chat.txt", "json", "chat.txt.json"),
    ("chat", "md", "chat.md"),
    ("~/exports/", "json", "~/exports/"),
    ("", "json", ""),
])
def test_picking_a_format_changes_only_a_known_suffix(text: str, fmt: str, expected: str) -> None:
    assert with_format(text, fmt) == expected  # type: ignore[arg-type]


def test_the_format_is_read_from_the_suffix() -> None:
    assert [format_of(p) for p in ("a.md", "a.Markdown", "a.json ", "a.txt", "a")] == ["md", "md", "json", None, None]


def test_typed_paths_expand_home_and_start_in_the_dialog_folder(tmp_path: Path) -> None:
    assert resolve_path(" chat.md ", tmp_path) == tmp_path / "chat.md"
    assert resolve_path("~/chat.md", tmp_path) == Path.home() / "chat.md"
    assert resolve_path("/abs/chat.md", tmp_path) == Path("/abs/chat.md")
    assert shown_path(Path.home() / "x" / "chat.md") == str(Path("~/x/chat.md"))
