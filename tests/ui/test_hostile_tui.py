"""The TUI against a misbehaving server: faults are the server's, shown in words, and cost
nothing that arrived; model ids and replies holding terminal commands are shown, not
obeyed; a key inside the base URL is never on screen or on disk; the file tools say
where they reach."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.support.hostile import ESCAPES, HostileServer
from tests.support.pilot import screen_text, send, wait_for_reply, wait_until
from vllm_chat.core.store import SessionStore

SECRET = "sk-in-the-url-3b7d91"


def flatten(text: str) -> str:
    """`text` on one line, without the bars that edge notices (a sentence may wrap anywhere)."""
    for bar in "█▌│":
        text = text.replace(bar, " ")
    return " ".join(text.split())


def flat(app) -> str:
    """The screen's text on one line (see `flatten`)."""
    return flatten(screen_text(app))


async def screen_with(pilot, app, *said: str) -> str:
    """Wait until the screen says each of `said` (read flat), and return that screen's text,
    so what it must not say is checked on the very same frame."""
    def shown() -> str | None:
        text = screen_text(app)
        return text if all(s in flatten(text) for s in said) else None

    return await wait_until(pilot, shown, message=f"{said} on screen")


@pytest.fixture
async def hostile():
    async with HostileServer(models=("evil\x1b]52;c;cHduZWQ=\x07model", "plain")) as server:
        yield server


@pytest.mark.parametrize(("fault", "said"), [
    ("garbage", "a chunk that is not JSON"),
    ("wrong-shape", "'choices' is a string, not a list"),
    ("bad-utf8", "bytes that are not UTF-8"),
])
async def test_a_malformed_chunk_shows_a_warning_under_the_whole_reply(make_app, hostile, fault: str,
                                                                        said: str) -> None:
    async with make_app(base_url=hostile.base_url, api_key="", size=(120, 40)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, fault)
        await wait_for_reply(app, pilot)
        text = await screen_with(pilot, app, said, "before", "after")  # the rest of the stream is kept
        assert "not of vllm-chat" in " ".join(text.split()) and "bug in vllm-chat" not in text


async def test_an_html_error_page_is_a_line_on_screen_and_in_the_session(make_app, hostile) -> None:
    async with make_app(base_url=hostile.base_url, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "error-page")
        await wait_for_reply(app, pilot)
        text = await screen_with(pilot, app, 'HTML page of 2.0 MB ("502 Bad Gateway")')
        assert "upstream connect error" not in text
        conv_id = app.session.conversation.id
    saved = (SessionStore().root / f"{conv_id}.json").read_text()
    assert len(saved) < 20_000 and "upstream connect error" not in saved


async def test_model_ids_and_replies_holding_terminal_commands_are_shown_not_obeyed(make_app, hostile) -> None:
    async with make_app(base_url=hostile.base_url, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await wait_until(pilot, lambda: "evil␛]52;c;cHduZWQ=␇model" in screen_text(app), message="the model id")
        await send(app, pilot, "escapes")
        await wait_for_reply(app, pilot)
        text = await screen_with(pilot, app, "␛]0;PWNED-TITLE␇")
        assert "\x1b" not in text and app.session.conversation.messages[-1].content.strip() == ESCAPES


async def test_a_key_inside_the_base_url_is_never_shown_or_saved(make_app, hostile) -> None:
    url = hostile.base_url.replace("http://", f"http://bob:{SECRET}@")
    async with make_app(base_url=url, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "error-page")
        await wait_for_reply(app, pilot)
        text = await screen_with(pilot, app, "502", "@ 127.0.0.1:")
        assert SECRET not in text
        conv_id = app.session.conversation.id
    assert SECRET not in (SessionStore().root / f"{conv_id}.json").read_text()


async def test_a_server_that_cant_be_reached_is_named_without_the_key(make_app) -> None:
    async with make_app(base_url=f"http://bob:{SECRET}@127.0.0.1:9/v1", api_key="") as (app, pilot):
        text = await screen_with(pilot, app, "Can't reach the server at http://bob:***@127.0.0.1:9/v1")
        assert SECRET not in text


async def test_a_model_list_that_is_a_web_page_is_explained_in_the_banner(make_app) -> None:
    async with (HostileServer(models_body=b"<!DOCTYPE html><title>Proxy login</title>") as server,
                make_app(base_url=server.base_url, api_key="") as (app, pilot)):
        text = await screen_with(pilot, app, 'HTML page of 41 bytes ("Proxy login")')
        assert "bug in vllm-chat" not in text


async def test_started_in_the_home_folder_the_welcome_says_where_file_tools_reach_and_reads_ask(
        make_app, hostile, monkeypatch: pytest.MonkeyPatch) -> None:
    home = Path(tempfile.mkdtemp(prefix="home-"))  # short: the welcome text must not wrap inside it
    (home / "notes.txt").write_text("hello")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(home)
    async with make_app(base_url=hostile.base_url, api_key="", size=(120, 40)) as (app, pilot):
        await screen_with(pilot, app, f"read only inside {home}", "every read asks you first")  # the welcome note
        await wait_until(pilot, lambda: app.session.models)
        await send(app, pilot, "call read_file " + json.dumps({"path": "notes.txt"}))
        await wait_until(pilot, lambda: "Reads 'notes.txt'" in flat(app), message="the approval naming it")
    shutil.rmtree(home)


def terminal_bytes(app) -> str:
    """What the app would write to a terminal for a full redraw now (escape codes included)."""
    import io

    from rich.console import Console

    console = Console(file=io.StringIO(), force_terminal=True, width=app.size.width, color_system="truecolor")
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.file.getvalue()


async def test_a_notification_quoting_a_model_id_carries_no_terminal_command(make_app, hostile) -> None:
    async with make_app(base_url=hostile.base_url, api_key="") as (app, pilot):
        await wait_until(pilot, lambda: app.session.models)
        app.chat.use_model(app.session.models[0].id)
        # Read while the toast is on screen (it expires after a few seconds).
        written = await wait_until(pilot, lambda: "Next turns use evil␛]52" in flat(app) and terminal_bytes(app),
                                   message="the toast")
        assert "\x1b]52" not in written and "\x07" not in written


async def test_text_boxes_show_control_characters_from_sessions_and_pastes_inert(make_app, hostile) -> None:
    from textual import events

    from vllm_chat.ui.screens.text_edit import TextEditScreen

    async with make_app(base_url=hostile.base_url, api_key="") as (app, pilot):
        app.chat.prompt.load_text("recalled \x1b]0;TITLE\x07")  # as ↑ or edit-and-resend loads it
        await wait_until(pilot, lambda: "recalled ␛]0;TITLE␇" in flat(app))
        app.chat.prompt.load_text("")
        app.chat.prompt.post_message(events.Paste("pasted \x1b[2J\x9b"))
        await wait_until(pilot, lambda: "pasted ␛[2J<U+009B>" in flat(app))
        app.push_screen(TextEditScreen("system \x1b]52;c;eA==\x07", title="Edit"))
        written = await wait_until(pilot, lambda: "system ␛]52;c;eA==␇" in flat(app) and terminal_bytes(app))
        assert "\x1b]" not in written and "\x9b" not in written and "\x1b[2J" not in written
