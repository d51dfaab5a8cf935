"""vllm-chat itself (one-shot mode, the TUI, the tool loop, error messages) against a REAL
vLLM server. Set `VLLM_CHAT_REAL_URL` (and `VLLM_CHAT_REAL_API_KEY` if it was started with
`--api-key`); `.ci/run` does both. The model writes gibberish: tests check what the app
does with the real protocol, not the words."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from tests.support.pilot import answer_dialog, screen_text, wait_until
from vllm_chat.core.client import ChatClient
from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.engine import Engine
from vllm_chat.core.events import ToolResult, TurnFailed, TurnFinished
from vllm_chat.core.tools.approval import ApprovalPolicy
from vllm_chat.core.tools.base import Tool
from vllm_chat.core.tools.registry import ToolRegistry
from vllm_chat.core.turn_request import TurnOptions

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not os.environ.get("VLLM_CHAT_REAL_URL"),
                       reason="set VLLM_CHAT_REAL_URL to a real vLLM server's /v1 URL"),
]

URL = os.environ.get("VLLM_CHAT_REAL_URL", "")
KEY = os.environ.get("VLLM_CHAT_REAL_API_KEY", "")
MODEL = os.environ.get("VLLM_CHAT_REAL_MODEL", "tiny-llama")


def cli(*args: str, key: str | None = KEY) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLLM_CHAT_REAL", "OPENAI_"))}
    argv = [sys.executable, "-m", "vllm_chat", "--base-url", URL, *args]
    if key:
        argv += ["--api-key", key]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)


def test_one_shot_prints_the_streamed_reply_and_exits_0() -> None:
    result = cli("-p", "Say hello", "--max-tokens", "16", "--no-tools")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    assert "Traceback" not in result.stderr


def test_one_shot_json_reports_text_usage_and_finish_reason() -> None:
    result = cli("-p", "Say hello", "--max-tokens", "8", "--no-tools", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["model"] == MODEL and doc["finish_reason"] in ("length", "stop")
    assert doc["usage"]["completion_tokens"] <= 8 and doc["usage"]["prompt_tokens"] > 0
    assert isinstance(doc["text"], str)


def test_an_unknown_model_lists_what_the_server_serves() -> None:
    result = cli("-p", "hi", "--model", "nope", "--no-tools")
    assert result.returncode == 1
    assert "does not serve the model 'nope'" in result.stderr
    assert f"It serves: {MODEL}" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not KEY, reason="the server was started without --api-key")
def test_a_wrong_key_and_a_missing_key_say_what_to_do() -> None:
    wrong = cli("-p", "hi", "--no-tools", key="wrong-key")
    assert wrong.returncode == 1 and "refused the API key" in wrong.stderr
    missing = cli("-p", "hi", "--no-tools", key=None)
    assert missing.returncode == 1 and "wants an API key" in missing.stderr and "--api-key" in missing.stderr


async def test_a_tui_turn_streams_a_reply_from_the_real_server() -> None:
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store import SessionStore
    from vllm_chat.ui.app import VllmChatApp

    settings = load_settings({"base_url": URL, "api_key": KEY or "EMPTY", "sampling": {"max_tokens": 24},
                              "tools": {"enabled": False}})
    chat = ChatSession(settings, store=SessionStore())
    app = VllmChatApp(chat)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat.models)
        status = chat.status()
        assert status.model == MODEL and status.context_max == 2048
        await wait_until(pilot, lambda: f"{MODEL}" in screen_text(app).splitlines()[0]
                         and "/2.0k" in screen_text(app).splitlines()[0], message="the header")
        app.chat.prompt.load_text("Hello there")
        app.chat.prompt.action_submit()
        await pilot.pause()
        await wait_until(pilot, lambda: not chat.running and chat.conversation.messages[-1].role == "assistant"
                         and chat.conversation.messages[-1].status != "streaming", timeout=60)
        reply = chat.conversation.messages[-1]
        assert reply.status == "complete" and reply.content
        assert reply.usage is not None and reply.usage.completion_tokens <= 24
    await chat.aclose()


async def test_a_tui_image_for_the_text_only_real_model_is_offered_to_be_left_out_and_then_answered(
        tmp_path) -> None:
    from PIL import Image

    from tests.support.pilot import send, wait_for_screen
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store import SessionStore
    from vllm_chat.ui.app import VllmChatApp
    from vllm_chat.ui.screens.confirm import ConfirmScreen

    photo = tmp_path / "red.png"
    Image.new("RGB", (32, 32), (255, 0, 0)).save(photo)
    settings = load_settings({"base_url": URL, "api_key": KEY or "EMPTY", "sampling": {"max_tokens": 16},
                              "tools": {"enabled": False}})
    chat = ChatSession(settings, store=SessionStore())
    app = VllmChatApp(chat)

    def answered() -> bool:
        last = chat.conversation.messages[-1]
        return not chat.running and last.role == "assistant" and last.status != "streaming"

    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat.models)
        await send(app, pilot, f"/attach {photo}")
        await wait_until(pilot, lambda: len(app.chat.attachments.chips) == 1)
        await send(app, pilot, "What is in this picture?")
        await wait_for_screen(pilot, app, ConfirmScreen, timeout=60)
        assert app.screen.question == (f"{MODEL} can't see images, video or audio (it is not a multimodal "
                                       "model). Send without the attachments?")
        await answer_dialog(pilot, "y")
        await wait_until(pilot, answered, timeout=60)
        reply = chat.conversation.messages[-1]
        assert reply.status == "complete" and reply.content, "the request without the image was answered"
        assert chat.conversation.messages[0].attachments, "the image stays in the conversation"

        await send(app, pilot, "And now?")  # the choice holds: no second refusal, no second question
        await wait_until(pilot, lambda: len(chat.conversation.messages) == 4 and answered(), timeout=60)
        assert chat.conversation.messages[-1].status == "complete"
        assert not isinstance(app.screen, ConfirmScreen)
    await chat.aclose()


class PickNumber(Tool):
    """A tool with a strict schema, so even random weights produce a valid call."""

    name = "pick_number"
    description = "Pick a whole number."
    parameters: dict[str, Any] = {
        "type": "object",
        "properties": {"n": {"type": "integer"}},
        "required": ["n"],
        "additionalProperties": False,
    }

    def spec(self) -> dict[str, Any]:
        spec = super().spec()
        spec["function"]["strict"] = True
        return spec

    async def run(self, arguments: dict[str, Any]) -> str:
        return f"you picked {arguments['n']}"


async def test_a_forced_tool_call_goes_through_the_whole_loop_and_ends_with_an_answer() -> None:
    registry = ToolRegistry([PickNumber()])
    client = ChatClient(URL, KEY or "EMPTY")
    conv = Conversation(model=MODEL)
    conv.params.max_tokens = 800  # strict arguments come padded with hundreds of spaces
    # Random weights: the seed makes the run repeatable (with seed 2 the forced reply makes two
    # complete calls and the second request gets a text answer). What they guarantee whatever
    # the seed does is checked below: a forced reply is either complete calls that match the
    # strict schema, or cut at max_tokens, and then nothing runs.
    conv.params.seed = 2
    conv.add(Message(role="user", content="Pick a number."))
    engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry), max_rounds=3)
    events = [e async for e in engine.run(conv, TurnOptions(tool_choice="required"))]
    await client.aclose()
    results = [e for e in events if isinstance(e, ToolResult)]
    forced = conv.messages[1]
    assert forced.role == "assistant" and forced.tool_calls, "tool_choice=required: the reply is calls"
    assert all(call.id.startswith("chatcmpl-tool-") for call in forced.tool_calls)
    if forced.finish_reason == "length":  # cut while its arguments streamed: a cut call never runs
        assert forced.was_cut and not results and isinstance(events[-1], TurnFinished)
        return
    assert forced.finish_reason == "tool_calls"
    ran = results[:len(forced.tool_calls)]
    assert [r.call.name for r in ran] == ["pick_number"] * len(forced.tool_calls)
    assert all(r.message.tool_status == "ok" and re.fullmatch(r"you picked -?\d+", r.message.content) for r in ran)
    after = len(forced.tool_calls) + 2
    assert [m.role for m in conv.messages[:after]] == ["user", "assistant", *["tool"] * len(forced.tool_calls)]
    # The results went back to the model, which answered (with tool_choice auto from then on,
    # gibberish may itself call a tool now and then; the turn still ends).
    answer = conv.messages[after]
    assert answer.role == "assistant" and answer.status == "complete"
    last = events[-1]
    assert isinstance(last, TurnFinished) or (isinstance(last, TurnFailed) and last.error.kind == "round_limit")


def test_an_image_for_the_text_only_real_model_gets_the_friendly_message(tmp_path) -> None:
    from PIL import Image

    photo = tmp_path / "p.png"
    Image.new("RGB", (32, 32), (255, 0, 0)).save(photo)
    result = cli("-p", "What is in this picture?", "--attach", str(photo), "--no-tools")
    assert result.returncode == 1
    assert f"{MODEL} can't see images, video or audio" in result.stderr
    assert "Send the message without the attachments" in result.stderr
