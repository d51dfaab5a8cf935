"""A save that fails on a real disk shows a banner in the TUI until a save works again,
and nothing is lost meanwhile: a tiny tmpfs filled to the last byte, and the same tmpfs
remounted read-only (read-only even for root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.disks import fill, remount, small_tmpfs
from tests.support.pilot import screen_text, send, wait_for_reply, wait_until
from vllm_chat.core.store import SessionStore


def contents(app) -> list[str]:
    return [m.content for m in app.session.conversation.messages]


async def test_a_full_disk_shows_a_banner_until_there_is_room_and_loses_nothing(
        sim, make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    with small_tmpfs() as disk:
        monkeypatch.setenv("VLLM_CHAT_DATA_DIR", str(disk / "data"))
        async with make_app(base_url=sim.base_url) as (app, pilot):
            await wait_until(pilot, lambda: app.session.models)
            filler = fill(disk)
            await send(app, pilot, "echo written while the disk is full")
            await wait_for_reply(app, pilot)
            await wait_until(pilot, lambda: "Not saved:" in screen_text(app) and "kept in memory" in screen_text(app),
                             message="the save banner, saying the conversation is kept in memory")
            assert "No space left on device" in app.session.status().save_problem
            filler.unlink()
            await send(app, pilot, "echo and after")
            await wait_for_reply(app, pilot)
            await wait_until(pilot, lambda: "Not saved:" not in screen_text(app), message="the banner to go")
            saved = SessionStore().load(app.session.conversation.id)
            assert [m.content for m in saved.messages] == contents(app) == [
                "echo written while the disk is full", "written while the disk is full",
                "echo and after", "and after"]


async def test_a_read_only_folder_shows_a_banner_and_the_file_catches_up_once_writable(
        sim, make_app, monkeypatch: pytest.MonkeyPatch) -> None:
    with small_tmpfs() as disk:
        monkeypatch.setenv("VLLM_CHAT_DATA_DIR", str(disk / "data"))
        async with make_app(base_url=sim.base_url) as (app, pilot):
            await wait_until(pilot, lambda: app.session.models)
            await send(app, pilot, "echo first")
            await wait_for_reply(app, pilot)
            path = SessionStore().path_for(app.session.conversation.id)
            await wait_until(pilot, lambda: Path(path).exists(), message="the first save")
            remount(disk, "ro")
            try:
                await send(app, pilot, "echo while read-only")
                await wait_for_reply(app, pilot)
                await wait_until(pilot, lambda: "Not saved:" in screen_text(app), message="the save banner")
                assert "Read-only file system" in app.session.status().save_problem
            finally:
                remount(disk, "rw")
            app.session.set_system_prompt("be brief")  # any change saves again
            await wait_until(pilot, lambda: "Not saved:" not in screen_text(app), message="the banner to go")
            saved = SessionStore().load(app.session.conversation.id)
            assert [m.content for m in saved.messages] == ["echo first", "first", "echo while read-only",
                                                           "while read-only"]
