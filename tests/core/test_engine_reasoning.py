"""Reasoning and answer deltas become `ReasoningDelta` and `ContentDelta` events, in the
order vLLM sent them, across the reasoning→answer transition.

vLLM's think-tag parsers end the reasoning with a delta whose `content` is
null (next to the last reasoning piece), and may send one delta carrying both
`reasoning` and `content` (protocol reference, "Reasoning→answer transition
in one delta"). The engine runs over real HTTP through the openai SDK against
the simulated reasoning server, the captured streams of a real vLLM, and
crafted streams with those two shapes.
"""

from __future__ import annotations

import json

import aiohttp
import pytest

from tests.support.replay import CAPTURES, Capture, ReplayServer, load_capture
from vllm_chat.core.client import ChatClient
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.engine import Engine
from vllm_chat.core.events import (
    ContentDelta,
    Event,
    ReasoningDelta,
    TurnFinished,
    TurnStarted,
)
from vllm_chat.core.turn_request import TurnOptions
from vllm_chat.simserver import SimConfig, SimServer

Step = tuple[str, str]
"""One text event: ("reasoning" | "content", text)."""

REASONING_STREAMS = sorted(
    str(path.relative_to(CAPTURES).with_suffix(""))
    for path in CAPTURES.glob("reasoning_*/*stream*.http")
    if "nonstream" not in path.name
)


async def run_turn(base_url: str, prompt: str = "hi", model: str = "tiny-llama") -> tuple[list[Event], Message]:
    """One turn without tools (and a single round); its events and the assistant message."""
    client = ChatClient(base_url)
    conv = Conversation(model=model)
    conv.add(Message(role="user", content=prompt))
    try:
        events = [e async for e in Engine(client, max_rounds=1).run(conv, TurnOptions(tools_enabled=False))]
    finally:
        await client.aclose()
    return events, conv.messages[1]


def streamed(events: list[Event]) -> list[Step]:
    """The text events of the first round, as (kind, text)."""
    steps: list[Step] = []
    rounds = 0
    for event in events:
        if isinstance(event, TurnStarted):
            rounds += 1
        elif rounds == 1 and isinstance(event, ReasoningDelta):
            steps.append(("reasoning", event.text))
        elif rounds == 1 and isinstance(event, ContentDelta):
            steps.append(("content", event.text))
    return steps


def deltas_in(body: bytes) -> list[dict]:
    """The `delta` of choice 0 in every chunk of an SSE body, in order."""
    out = []
    for line in body.decode().splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                if choice["index"] == 0:
                    out.append(choice["delta"])
    return out


def expected_steps(deltas: list[dict]) -> list[Step]:
    """What a delta stream must become: per delta, its reasoning (either field name) and then
    its content; null and empty strings are no text at all."""
    steps: list[Step] = []
    for delta in deltas:
        reasoning = delta.get("reasoning") or delta.get("reasoning_content")
        if reasoning:
            steps.append(("reasoning", reasoning))
        if delta.get("content"):
            steps.append(("content", delta["content"]))
    return steps


def is_transition(delta: dict) -> bool:
    """vLLM's transition delta: reasoning next to an explicit `"content": null`."""
    has_reasoning = bool(delta.get("reasoning") or delta.get("reasoning_content"))
    return has_reasoning and "content" in delta and delta["content"] is None


def crafted(*deltas: dict) -> Capture:
    """A vLLM-shaped stream: a role chunk, `deltas`, a `stop` finish chunk, `[DONE]`."""
    chunks = [{"role": "assistant", "content": ""}, *deltas]
    events = [_chunk(d, None) for d in chunks] + [_chunk({}, "stop"), b"data: [DONE]"]
    return Capture(200, {"content-type": "text/event-stream; charset=utf-8"}, b"\n\n".join(events) + b"\n\n")


def _chunk(delta: dict, finish: str | None) -> bytes:
    doc = {"id": "chatcmpl-9f1c2d3e4a5b6c7d", "object": "chat.completion.chunk", "created": 1764000000,
           "model": "tiny-llama",
           "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish,
                        "token_ids": None}],
           "kv_transfer_params": None}
    return b"data: " + json.dumps(doc, separators=(",", ":")).encode()


async def replay(capture: Capture) -> tuple[list[Event], Message]:
    async with ReplayServer() as server:
        server.capture = capture
        return await run_turn(server.base_url)


# --- the simulated reasoning server ---------------------------------------------------------------


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
async def test_the_simulated_reasoning_server_streams_reasoning_then_the_answer(field: str) -> None:
    prompt = "echo hello world"
    async with SimServer(SimConfig(reasoning=True, reasoning_field=field)) as server:
        async with aiohttp.ClientSession() as http:
            raw = await http.post(server.base_url + "/chat/completions", json={
                "model": "sim-chat", "stream": True, "messages": [{"role": "user", "content": prompt}]})
            deltas = deltas_in(await raw.read())
        events, reply = await run_turn(server.base_url, prompt, model="sim-chat")
    assert any(is_transition(d) for d in deltas), "the server sends vLLM's transition delta"
    steps = streamed(events)
    assert steps == expected_steps(deltas)
    kinds = [kind for kind, _ in steps]
    assert kinds == sorted(kinds, key=lambda k: k == "content"), "all reasoning comes before the answer"
    assert reply.reasoning == "".join(text for kind, text in steps if kind == "reasoning")
    assert reply.content == "\n\nhello world"
    assert isinstance(events[-1], TurnFinished) and reply.status == "complete"


# --- what a real vLLM sent --------------------------------------------------------------------------


@pytest.mark.skipif(not REASONING_STREAMS, reason=f"captures not found at {CAPTURES}")
@pytest.mark.parametrize("name", REASONING_STREAMS)
async def test_a_captured_reasoning_stream_becomes_the_same_text_events_in_order(name: str) -> None:
    capture = load_capture(name)
    async with ReplayServer() as server:
        server.use(name)
        events, reply = await run_turn(server.base_url)
    deltas = deltas_in(capture.body)
    assert streamed(events) == expected_steps(deltas)
    assert reply.content == "".join(d.get("content") or "" for d in deltas)
    assert (reply.reasoning or "") == "".join(d.get("reasoning") or "" for d in deltas)


def test_the_captures_replayed_above_go_from_reasoning_into_an_answer() -> None:
    if not REASONING_STREAMS:
        pytest.skip(f"captures not found at {CAPTURES}")

    def turns_to_answer(name: str) -> bool:
        kinds = [kind for kind, _ in expected_steps(deltas_in(load_capture(name).body))]
        return "reasoning" in kinds and "content" in kinds[kinds.index("reasoning"):]

    assert any(turns_to_answer(n) for n in REASONING_STREAMS)


# --- the two transition shapes, crafted --------------------------------------------------------------


async def test_a_transition_delta_with_null_content_adds_reasoning_and_no_answer_text() -> None:
    events, reply = await replay(crafted(
        {"reasoning": "Let me think"},
        {"content": None, "reasoning": "."},
        {"content": "The answer"},
        {"content": " is 4."},
    ))
    assert streamed(events) == [("reasoning", "Let me think"), ("reasoning", "."),
                                ("content", "The answer"), ("content", " is 4.")]
    assert (reply.reasoning, reply.content) == ("Let me think.", "The answer is 4.")


@pytest.mark.parametrize("field", ["reasoning", "reasoning_content"])
async def test_one_delta_with_reasoning_and_content_gives_the_reasoning_first_then_the_answer(field: str) -> None:
    events, reply = await replay(crafted(
        {field: "Let me think"},
        {"content": "The answer", field: " done"},
        {"content": " is 4."},
    ))
    assert streamed(events) == [("reasoning", "Let me think"), ("reasoning", " done"),
                                ("content", "The answer"), ("content", " is 4.")]
    assert (reply.reasoning, reply.content) == ("Let me think done", "The answer is 4.")
    assert reply.timings is not None and reply.timings.ttft is not None


async def test_a_delta_with_both_fields_as_the_first_text_still_starts_with_the_reasoning() -> None:
    events, reply = await replay(crafted({"content": "Answer", "reasoning": "Thought"}))
    assert streamed(events) == [("reasoning", "Thought"), ("content", "Answer")]
    assert (reply.reasoning, reply.content) == ("Thought", "Answer")
