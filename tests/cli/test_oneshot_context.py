"""One-shot mode and the context window: `--count` prints the exact prompt size without
generating, `--json` carries the server's prompt_tokens, a request over the window exits 1
with the ways out spelled as flags (never a server 400), and `--compact` compacts a
continued session first. Runs the real command against a simulated vLLM."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Iterator

import pytest

from tests.cli.test_oneshot import run
from tests.support.tokenize_proxy import TokenizeProxy
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer

FILLER = "lorem ipsum dolor sit amet " * 12


@pytest.fixture(scope="module")
def sim() -> Iterator[object]:
    server = SimServer(SimConfig(max_model_len=2048)).start_in_thread()
    yield server
    server.stop()


def test_count_prints_the_exact_prompt_tokens_and_the_window_without_generating(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "echo how big am I?", "--count")
    assert result.returncode == 0, result.stderr
    first, *parts = result.stdout.splitlines()
    found = re.fullmatch(r"(\d+) prompt tokens of 2048 \(max_model_len\)", first)
    assert found, first
    sizes = {line.rsplit(None, 1)[0].strip(): int(line.split()[-1]) for line in parts}
    assert set(sizes) == {"system prompt", "history", "prompt", "attachments", "tools"}
    assert sum(sizes.values()) == int(found.group(1))
    sent = json.loads(run("--base-url", sim.base_url, "-p", "echo how big am I?", "--json").stdout)
    assert sent["prompt_tokens"] == int(found.group(1)) == sent["usage"]["prompt_tokens"], \
        "--count is what the request then sends, and --json carries the server's figure"
    assert sent["max_model_len"] == 2048


def test_count_as_json_for_scripts(sim) -> None:
    doc = json.loads(run("--base-url", sim.base_url, "-p", "echo hi", "--count", "--json", "--no-tools").stdout)
    assert doc["prompt_tokens"] > 0 and doc["max_model_len"] == 2048 and doc["parts"]["tools"] == 0


def test_a_prompt_over_the_window_exits_1_with_the_ways_out_as_flags(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "echo " + FILLER * 40)
    assert result.returncode == 1 and result.stdout == ""
    assert "2,048-token context window (max_model_len)" in result.stderr
    assert "hint: --no-tools leaves out the tool schemas" in result.stderr and "shorten the prompt" in result.stderr
    assert "400" not in result.stderr, "the request was never sent"


async def test_a_slow_count_is_waited_for_before_refusing_so_the_refusal_is_exact() -> None:
    # The server takes 3 s to count: longer than the TUI's pre-send check waits (2 s),
    # shorter than context.count_timeout. One-shot waits, so it refuses on the server's
    # own count rather than sending on an estimate into a 400.
    async with SimServer(SimConfig(max_model_len=2048)) as server, \
            TokenizeProxy(server.base_url.removesuffix("/v1"), mode="slow", delay=3.0) as proxy:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "vllm_chat", "--base-url", proxy.base_url, "-p", "echo " + FILLER * 40,
            stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
        out, err = await asyncio.wait_for(child.communicate(), 60)
    stderr = err.decode()
    assert child.returncode == 1 and out == b""
    assert "about" not in stderr and "--no-tools leaves out the tool schemas" in stderr, stderr
    assert "400" not in stderr, "the request was never sent"


def test_compact_summarises_a_continued_session_before_sending(sim) -> None:
    messages = []
    for i in range(6):
        messages += [Message(role="user", content=f"question {i}: {FILLER}"),
                     Message(role="assistant", content=f"answer {i}: {FILLER}", model="sim-chat")]
    conv = Conversation(model="sim-chat", title="long", messages=messages)
    SessionStore().save(conv)
    result = run("--base-url", sim.base_url, "--resume", conv.id, "--no-tools", "-p", "echo and now?", "--compact")
    assert result.returncode == 0, result.stderr
    assert re.search(r"compacted 8 older messages: \S+ → \S+ tokens", result.stderr)
    assert result.stdout == "and now?\n"
    saved = SessionStore().load(conv.id)
    assert saved.messages[0].is_summary and len(saved.compactions[0].messages) == 8
