"""The engine turns what a real vLLM sent (replayed byte for byte) into the right events
and the right assistant message, through the real openai SDK."""

from __future__ import annotations

import json

import pytest

from tests.support.replay import CAPTURES, ReplayServer, load_capture
from vllm_chat.core.client import ChatClient
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.engine import Engine, TurnOptions
from vllm_chat.core.events import (
    ContentDelta,
    ReasoningDelta,
    ToolCallDelta,
    ToolCallReady,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    UsageUpdated,
)

pytestmark = pytest.mark.skipif(not CAPTURES.exists(), reason=f"captures not found at {CAPTURES}")


async def run_capture(name: str, **engine_kwargs: object) -> tuple[list[object], Conversation]:
    async with ReplayServer() as server:
        server.use(name)
        client = ChatClient(server.base_url)
        conv = Conversation(model="tiny-llama")
        conv.add(Message(role="user", content="hi"))
        engine = Engine(client, **engine_kwargs)  # type: ignore[arg-type]
        events = [e async for e in engine.run(conv, TurnOptions(tools_enabled=False))]
        await client.aclose()
        return events, conv


def sse_deltas(name: str) -> list[dict]:
    body = load_capture(name).body.decode()
    out = []
    for line in body.splitlines():
        if line.startswith("data: {"):
            doc = json.loads(line[6:])
            for choice in doc.get("choices", []):
                out.append(choice["delta"])
    return out


async def test_content_deltas_rebuild_the_captured_text_and_usage_is_kept() -> None:
    events, conv = await run_capture("main/10_chat_stream_usage")
    text = "".join(e.text for e in events if isinstance(e, ContentDelta))
    expected = "".join(d.get("content") or "" for d in sse_deltas("main/10_chat_stream_usage"))
    reply = conv.messages[-1]
    assert text == expected == reply.content
    assert isinstance(events[0], TurnStarted) and isinstance(events[-1], TurnFinished)
    assert [e for e in events if isinstance(e, UsageUpdated)][-1].usage.completion_tokens == 12
    assert (reply.status, reply.finish_reason) == ("complete", "length")
    assert reply.usage is not None and reply.usage.prompt_tokens == 32
    assert reply.timings is not None and reply.timings.ttft is not None


async def test_reasoning_then_answer_are_split_into_their_own_fields() -> None:
    name = "reasoning_qwen3_in_grammar/71_reasoning_stream_forced"
    events, conv = await run_capture(name)
    deltas = sse_deltas(name)
    reply = conv.messages[-1]
    assert reply.reasoning == "".join(d.get("reasoning") or "" for d in deltas)
    assert reply.content == "".join(d.get("content") or "" for d in deltas)
    kinds = [type(e) for e in events if isinstance(e, (ReasoningDelta, ContentDelta))]
    first_content = kinds.index(ContentDelta)
    assert ReasoningDelta not in kinds[first_content + 1:], "reasoning comes before the answer"


async def test_legacy_reasoning_content_field_is_read_too() -> None:
    # The same capture with the field renamed, as vLLM <= 0.15 sent it.
    from tests.support import replay

    capture = load_capture("reasoning_qwen3/71_reasoning_stream_forced")
    legacy = replay.Capture(capture.status, capture.headers,
                            capture.body.replace(b'"reasoning":', b'"reasoning_content":'))
    async with ReplayServer() as server:
        server.capture = legacy
        client = ChatClient(server.base_url)
        conv = Conversation(model="tiny-llama")
        conv.add(Message(role="user", content="hi"))
        [e async for e in Engine(client).run(conv, TurnOptions(tools_enabled=False))]
        await client.aclose()
    assert conv.messages[-1].reasoning


async def test_include_reasoning_false_sends_null_reasoning_and_only_content_arrives() -> None:
    events, conv = await run_capture("reasoning_qwen3/77_reasoning_include_reasoning_false_stream")
    assert not any(isinstance(e, ReasoningDelta) for e in events)
    assert conv.messages[-1].reasoning is None
    assert conv.messages[-1].content


async def test_tool_call_deltas_are_merged_by_index_into_two_calls() -> None:
    events, conv = await run_capture("main/25_tools_auto_hermes_stream", max_rounds=1)
    deltas = [e for e in events if isinstance(e, ToolCallDelta)]
    assert {d.index for d in deltas} == {0, 1}
    named = [d for d in deltas if d.name]
    assert [(d.index, d.name) for d in named] == [(0, "get_weather"), (1, "search_docs")]
    ready = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert [c.name for c in ready] == ["get_weather", "search_docs"]
    assert json.loads(ready[0].arguments) == {"city": "Paris", "unit": "celsius"}
    assert json.loads(ready[1].arguments) == {"query": "Paris weather", "limit": 3}
    assert all(c.id.startswith("chatcmpl-tool-") for c in ready)
    first = conv.messages[1]
    assert first.content == "Let me check.\n"
    assert first.finish_reason == "tool_calls" and len(first.tool_calls) == 2
    # Without tools in this client, each call gets an error result the model can read.
    results = [m for m in conv.messages if m.role == "tool"]
    assert [r.tool_call_id for r in results] == [c.id for c in ready]
    assert all(r.tool_status == "error" for r in results)


async def test_a_named_tool_choice_is_ready_at_finish_reason_stop() -> None:
    events, conv = await run_capture("main/21_tools_named_stream", max_rounds=1)
    ready = [e.call for e in events if isinstance(e, ToolCallReady)]
    assert len(ready) == 1 and conv.messages[1].finish_reason == "stop"


async def test_a_tool_call_cut_by_max_tokens_is_dropped_not_run() -> None:
    events, conv = await run_capture("main/27_tools_auto_hermes_truncated_stream")
    assert not any(isinstance(e, ToolCallReady) for e in events)
    assert isinstance(events[-1], TurnFinished)
    assert conv.messages[-1].finish_reason == "length"


async def test_an_error_event_before_any_token_fails_the_turn_with_the_servers_message() -> None:
    events, conv = await run_capture("main/6b_err_top_logprobs_too_many_stream")
    failed = events[-1]
    assert isinstance(failed, TurnFailed)
    assert failed.error.kind == "bad_request"
    assert "Requested sample logprobs of 25" in failed.error.message
    assert conv.messages[-1].status == "failed"


async def test_a_server_killed_mid_stream_keeps_the_partial_reply_marked_failed() -> None:
    events, conv = await run_capture("main/90_server_killed_mid_stream")
    failed = events[-1]
    assert isinstance(failed, TurnFailed)
    assert failed.error.kind == "truncated" and failed.error.retryable
    reply = conv.messages[-1]
    assert reply.status == "failed"
    expected = "".join(d.get("content") or "" for d in sse_deltas("main/90_server_killed_mid_stream"))
    assert reply.content == expected and len(reply.content) > 100
