"""The prompt as a workbench, through the real app (Pilot, the simulated vLLM over HTTP):
`@` suggests files and sends them with the prompt, bad mentions are refused with the text
kept, secret-looking files ask first, `/name` fills in a saved prompt, Enter while a reply
streams queues the prompt, and alt+v attaches the clipboard's image."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from tests.support.pilot import (
    answer_dialog,
    notes,
    screen_text,
    send,
    wait_for_reply,
    wait_for_screen,
    wait_until,
)
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.template_form import TemplateFormScreen


def notifications(app) -> str:
    """Every notification shown so far, one per line (expired toasts included)."""
    return notes(app)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "util.py").write_text("def util():\n    return 7\n")
    (root / "notes.md").write_text("# Notes\n")
    (root / ".env").write_text("TOKEN=abc\n")
    monkeypatch.chdir(root)
    return root


async def type_text(pilot, text: str) -> None:
    for char in text:
        await pilot.press(char if char != " " else "space")


async def test_typing_an_at_suggests_files_and_tab_inserts_one(sim, make_app, project: Path) -> None:
    async with make_app(base_url=sim.base_url, tools={"enabled": False}) as (app, pilot):
        await type_text(pilot, "look at @ut")
        await wait_until(pilot, lambda: "@src/util.py" in screen_text(app), message="the suggestion")
        await pilot.press("tab")
        await wait_until(pilot, lambda: app.chat.prompt.text == "look at @src/util.py ")
        assert not app.chat.completions.is_open
        await pilot.press("enter")
        await wait_for_reply(app, pilot)
        sent = sim.stats.last_request_body["messages"][-1]["content"]
        assert "src/util.py:\n```\ndef util():\n    return 7\n```" in sent
        await wait_until(pilot, lambda: "📄 src/util.py" in screen_text(app), message="the file under the prompt")


async def test_escape_closes_the_suggestions_without_stopping_anything(sim, make_app, project: Path) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await type_text(pilot, "@no")
        await wait_until(pilot, lambda: app.chat.completions.is_open)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not app.chat.completions.is_open)
        assert app.chat.prompt.text == "@no"


@pytest.mark.parametrize(
    ("make", "mention", "expected"),
    [
        (lambda root: None, "@missing.py", "there is no such file"),
        (lambda root: (root / "blob.bin").write_bytes(b"\x00\x01binary"), "@blob.bin", "is a binary file"),
        (lambda root: (root.parent / "outside.txt").write_text("x"), "@../outside.txt", "outside the folder"),
    ],
    ids=["missing", "binary", "outside"],
)
async def test_a_mention_that_cant_be_sent_is_refused_and_the_text_stays(sim, make_app, project: Path, make,
                                                                         mention: str, expected: str) -> None:
    make(project)
    async with make_app(base_url=sim.base_url) as (app, pilot):
        before = sim.stats.requests
        await send(app, pilot, f"read {mention}")
        await wait_until(pilot, lambda: expected in notifications(app))
        await wait_until(pilot, lambda: app.chat.prompt.text == f"read {mention}", message="the text put back")
        assert app.session.conversation.messages == [] and sim.stats.requests == before


async def test_a_ten_megabyte_file_goes_cut_with_a_note(sim, make_app, project: Path) -> None:
    (project / "big.log").write_text("x" * 100 + "\n" * 1 + ("line of text\n" * 800_000))
    async with make_app(base_url=sim.base_url, tools={"enabled": False}) as (app, pilot):
        await send(app, pilot, "summarise @big.log")
        await wait_for_reply(app, pilot)
        sent = sim.stats.last_request_body["messages"][-1]["content"]
        assert len(sent) < 110_000 and "[only the first" in sent
        await wait_until(pilot, lambda: "📄 big.log" in screen_text(app) and "(first" in screen_text(app))


async def test_a_secret_looking_file_is_sent_only_after_the_user_agrees(sim, make_app, project: Path) -> None:
    async with make_app(base_url=sim.base_url, tools={"enabled": False}) as (app, pilot):
        await send(app, pilot, "use @.env")
        confirm = await wait_for_screen(pilot, app, ConfirmScreen)
        await wait_until(pilot, lambda: "Send .env to the server?" in screen_text(app))
        await answer_dialog(pilot, "escape")
        await wait_until(pilot, lambda: app.screen is not confirm)
        await wait_until(pilot, lambda: app.chat.prompt.text == "use @.env")
        assert app.session.conversation.messages == []
        await send(app, pilot, "use @.env")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await answer_dialog(pilot, "y")
        await wait_for_reply(app, pilot)
        assert "TOKEN=abc" in sim.stats.last_request_body["messages"][-1]["content"]


async def test_slash_name_asks_for_the_variables_and_fills_the_prompt(sim, make_app, project: Path) -> None:
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await type_text(pilot, "/transl")
        await wait_until(pilot, lambda: "/translate" in screen_text(app), message="the saved prompt offered")
        await pilot.press("tab")
        form = await wait_for_screen(pilot, app, TemplateFormScreen)
        await pilot.press("enter")  # language keeps its default, English
        await pilot.press("enter")  # text is required and empty: refused
        await wait_until(pilot, lambda: "Fill in: text" in screen_text(app))
        await type_text(pilot, "hola")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is not form)
        await wait_until(pilot, lambda: app.chat.prompt.text == "Translate into English:\n\nhola")
        assert "translate faithfully" in app.session.conversation.system_prompt


async def test_enter_while_a_reply_streams_queues_the_prompt_and_it_goes_out_after(paced_sim, make_app,
                                                                                  project: Path) -> None:
    async with make_app(base_url=paced_sim.base_url, tools={"enabled": False}) as (app, pilot):
        await send(app, pilot, "long 1000")
        await wait_until(pilot, lambda: app.session.running)
        await send(app, pilot, "echo next in line")
        await wait_until(pilot, lambda: "⏳ next: echo next in line" in screen_text(app), message="the queue")
        await wait_until(pilot, lambda: [m.content for m in app.session.conversation.messages
                                         if m.role == "user"] == ["long 1000", "echo next in line"])
        await wait_for_reply(app, pilot)
        assert app.session.conversation.messages[-1].content == "next in line"
        await wait_until(pilot, lambda: "⏳" not in screen_text(app))


async def test_esc_stops_the_reply_and_keeps_the_queue_until_enter(paced_sim, make_app, project: Path) -> None:
    async with make_app(base_url=paced_sim.base_url, tools={"enabled": False}) as (app, pilot):
        await send(app, pilot, "long 2000")
        await wait_until(pilot, lambda: app.session.running)
        await send(app, pilot, "echo waiting")
        await wait_until(pilot, lambda: app.session.queued)
        await pilot.press("escape")
        await wait_for_reply(app, pilot)
        await wait_until(pilot, lambda: "queued prompt wait" in notifications(app))
        assert [q.text for q in app.session.queued] == ["echo waiting"]
        await wait_until(pilot, lambda: "⏳ next: echo waiting" in screen_text(app))
        await pilot.press("enter")  # on the empty prompt: send what waits
        await wait_until(pilot, lambda: app.session.conversation.messages[-1].content == "waiting")


async def test_a_queue_waits_when_the_turn_fails(paced_sim, make_app, project: Path) -> None:
    async with make_app(base_url=paced_sim.base_url, tools={"enabled": False}) as (app, pilot):
        await send(app, pilot, "long 2000 sim:error-mid")
        await wait_until(pilot, lambda: app.session.running)
        await send(app, pilot, "echo after the failure")
        await wait_until(pilot, lambda: app.session.queued)
        await wait_for_reply(app, pilot)
        assert app.session.conversation.messages[-1].status == "failed"
        await wait_until(pilot, lambda: "did not end normally" in notifications(app))
        assert [q.text for q in app.session.queued] == ["echo after the failure"]


async def test_alt_down_takes_the_last_queued_prompt_back_to_edit(paced_sim, make_app, project: Path) -> None:
    async with make_app(base_url=paced_sim.base_url, tools={"enabled": False}) as (app, pilot):
        await send(app, pilot, "long 3000")
        await wait_until(pilot, lambda: app.session.running)
        await send(app, pilot, "echo first")
        await send(app, pilot, "echo second")
        await wait_until(pilot, lambda: len(app.session.queued) == 2)
        await pilot.press("alt+down")
        await wait_until(pilot, lambda: app.chat.prompt.text == "echo second",
                         message=f"the prompt text, got {app.chat.prompt.text!r} {notifications(app)}")
        assert [q.text for q in app.session.queued] == ["echo first"]
        app.session.stop()


def fake_clipboard(folder: Path, image: Path | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    xclip = folder / "xclip"
    if image is None:
        xclip.write_text('#!/bin/sh\ncase "$*" in *TARGETS*) echo "TARGETS text/plain";; esac\n')
    else:
        xclip.write_text(f'#!/bin/sh\ncase "$*" in *TARGETS*) echo "TARGETS image/png";; '
                         f'*image/png*) /bin/cat "{image}";; esac\n')
    xclip.chmod(xclip.stat().st_mode | stat.S_IEXEC)


async def test_alt_v_attaches_the_clipboards_image(sim, make_app, project: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from PIL import Image

    image = tmp_path / "shot.png"
    Image.new("RGB", (40, 30), (200, 10, 10)).save(image)
    fake_clipboard(tmp_path / "bin", image)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("DISPLAY", ":0")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await pilot.press("alt+v")
        await wait_until(pilot, lambda: app.chat.attachments.attachments, message="the chip")
        assert app.chat.attachments.attachments[0].name == "clipboard.png"
        await wait_until(pilot, lambda: "read with xclip" in notifications(app))


async def test_alt_v_without_an_image_says_so(sim, make_app, project: Path, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    fake_clipboard(tmp_path / "bin", None)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}:/usr/bin:/bin")
    monkeypatch.setenv("DISPLAY", ":0")
    async with make_app(base_url=sim.base_url) as (app, pilot):
        await pilot.press("alt+v")
        await wait_until(pilot, lambda: "holds no image" in notifications(app))
        assert app.chat.attachments.attachments == []
