"""vllm-chat against a REAL vLLM started with `--reasoning-parser qwen3` (set
`VLLM_CHAT_REAL_REASONING_URL`; `.ci/run` starts one). The random-weight model never
writes `</think>`, so with thinking on (the template's default) the whole reply
arrives as `reasoning`, and with `enable_thinking: false` all of it is `content`."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.support.pilot import reply_over, send, wait_for_text, wait_until
from vllm_chat.core.config import load_settings

URL = os.environ.get("VLLM_CHAT_REAL_REASONING_URL", "")
MODEL = os.environ.get("VLLM_CHAT_REAL_MODEL", "tiny-llama")

pytestmark = [
    pytest.mark.integration,
    pytest.mark.xdist_group("real-vllm-reasoning"),  # one at a time on the CPU vLLM
    pytest.mark.skipif(not URL, reason="set VLLM_CHAT_REAL_REASONING_URL to a real vLLM started with "
                                       "--reasoning-parser qwen3"),
]


def one_shot(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLLM_CHAT_REAL", "OPENAI_"))}
    argv = [sys.executable, "-m", "vllm_chat", "--base-url", URL, "--no-tools", "--max-tokens", "12", *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, env=env, stdin=subprocess.DEVNULL)


def test_one_shot_prints_reasoning_to_stderr_only_when_asked() -> None:
    quiet = one_shot("-p", "Think about it", "--seed", "1")
    shown = one_shot("-p", "Think about it", "--seed", "1", "--show-reasoning")
    assert quiet.returncode == 0 and shown.returncode == 0, quiet.stderr + shown.stderr
    assert quiet.stdout.strip() == "", "thinking only: nothing is an answer"
    notes = quiet.stderr.strip().splitlines()
    assert all(line.startswith("vllm-chat: ") for line in notes), "only our notes, never the reasoning itself"
    assert any("no answer text, only reasoning (--show-reasoning" in line for line in notes), \
        "it says why stdout is empty"
    assert shown.stderr.strip(), "the reasoning goes to stderr"
    assert shown.stdout.strip() == ""


def test_one_shot_json_separates_reasoning_from_the_answer() -> None:
    thinking = json.loads(one_shot("-p", "Hi", "--json").stdout)
    plain = json.loads(one_shot("-p", "Hi", "--json", "--no-thinking").stdout)
    assert thinking["reasoning"] and not thinking["text"]
    assert plain["text"] and not plain["reasoning"]
    assert thinking["usage"]["completion_tokens"] > 0


async def test_a_tui_turn_shows_the_real_reasoning_in_its_own_block() -> None:
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store import SessionStore
    from vllm_chat.ui.app import VllmChatApp
    from vllm_chat.ui.widgets.message_views import ReasoningBlock

    settings = load_settings({"base_url": URL, "sampling": {"max_tokens": 16, "seed": 1},
                              "tools": {"enabled": False}})
    chat = ChatSession(settings, store=SessionStore())
    app = VllmChatApp(chat)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_until(pilot, lambda: chat.models)
        await send(app, pilot, "Think first")
        await wait_until(pilot, lambda: reply_over(app), timeout=60)
        reply = chat.conversation.messages[-1]
        assert reply.reasoning and not reply.content
        # A reply that is all reasoning keeps its block open: there is nothing else to read.
        await wait_for_text(pilot, app, f"▾ Reasoning · {len(reply.reasoning)} chars")
        block = app.screen.query_one(ReasoningBlock)  # drawn, so mounted
        assert not block.collapsed
    await chat.aclose()
