"""The engine turns what a real vLLM sent (replayed byte for byte) into the right events
and the right assistant message, through the real openai SDK; the real tool calls with bad
arguments become error results the model can read (or valid calls that run), never a crash."""

from __future__ import annotations

import json

import pytest

from tests.support.replay import CAPTURES, ReplayServer, load_capture
from vllm_chat.core.client import ChatClient
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.engine import Engine
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
from vllm_chat.core.tools.approval import ApprovalPolicy
from vllm_chat.core.tools.base import Tool
from vllm_chat.core.tools.registry import ToolRegistry
from vllm_chat.core.turn_request import TurnOptions

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


async def test_a_tool_call_cut_by_max_tokens_is_never_run() -> None:
    # vLLM's hermes parser holds a cut call back entirely: only the text before it arrives.
    events, conv = await run_capture("main/27_tools_auto_hermes_truncated_stream")
    assert not any(isinstance(e, ToolCallReady) for e in events)
    assert isinstance(events[-1], TurnFinished)
    assert conv.messages[-1].finish_reason == "length"
    assert not any(m.role == "tool" for m in conv.messages)


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


# --- real bad tool arguments, through the whole loop ------------------------------------------------


class SequenceReplay(ReplayServer):
    """Answers the first request with the first capture, every later one with the next
    (the last is repeated), and keeps the request bodies."""

    def __init__(self, *names: str) -> None:
        super().__init__()
        self.names = list(names)
        self.bodies: list[dict] = []

    async def _chat(self, request):  # type: ignore[no-untyped-def]
        self.bodies.append(json.loads(await request.read()))
        self.use(self.names.pop(0) if len(self.names) > 1 else self.names[0])
        return await super()._chat(request)


class CaptureTool(Tool):
    """A tool declared exactly as in a capture's request; it answers with its arguments."""

    def __init__(self, spec: dict) -> None:
        self.name = spec["function"]["name"]
        self.description = spec["function"]["description"]
        self.parameters = spec["function"]["parameters"]

    async def run(self, arguments: dict) -> str:
        return f"{self.name} ran with {json.dumps(arguments, sort_keys=True)}"


def capture_tools(name: str) -> ToolRegistry:
    """The tools the capture's request offered, as a registry."""
    request = json.loads((CAPTURES / f"{name}.request.json").read_text())
    return ToolRegistry([CaptureTool(spec) for spec in request["tools"]])


def captured_calls(name: str) -> list[tuple[str, str, str]]:
    """(id, name, arguments) of every call in a streamed capture, merged by index."""
    merged: dict[int, list[str]] = {}
    for line in load_capture(name).body.decode().splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:]).get("choices", []):
                for entry in choice["delta"].get("tool_calls") or []:
                    slot = merged.setdefault(entry["index"], ["", "", ""])
                    slot[0] = entry.get("id") or slot[0]
                    slot[1] = (entry.get("function") or {}).get("name") or slot[1]
                    slot[2] += (entry.get("function") or {}).get("arguments") or ""
    return [tuple(merged[i]) for i in sorted(merged)]  # type: ignore[misc]


BAD_ARGUMENT_CAPTURES = {
    # capture: what each call's result must say (None: the tool ran)
    "main/20_tools_required_stream": ["arguments must be a JSON object, got a number"],
    "main/2a_tools_required_stream_seed7": ["arguments are not valid JSON (4e9999",
                                            "arguments must be a JSON object, got a string"],
    "main/2b_tools_required_truncated_stream": [],
    "main/2c_tools_default_choice_hermes_stream": [None, None],
    "main/2d_tools_required_strict_stream": [None],
    "main/2f_tools_required_parallel_false_stream": ["arguments are not valid JSON (4e9999"],
}


@pytest.mark.parametrize("name", sorted(BAD_ARGUMENT_CAPTURES))
async def test_real_tool_calls_become_a_valid_call_or_an_error_result_never_a_crash(name: str) -> None:
    expected = BAD_ARGUMENT_CAPTURES[name]
    async with SequenceReplay(name, "main/28_tools_result_roundtrip_stream") as server:
        client = ChatClient(server.base_url)
        conv = Conversation(model="tiny-llama")
        conv.add(Message(role="user", content="Weather in Paris?"))
        tools = capture_tools(name)
        events = [e async for e in Engine(client, tools=tools, approval=ApprovalPolicy(tools)).run(conv)]
        await client.aclose()
    assert isinstance(events[-1], TurnFinished), events[-1]
    asked = conv.messages[1]
    assert [(c.id, c.name, c.arguments) for c in asked.tool_calls] == captured_calls(name)
    results = [m for m in conv.messages if m.role == "tool"]
    assert [r.tool_call_id for r in results] == [c.id for c in asked.tool_calls]
    for result, problem in zip(results, expected, strict=True):
        if problem is None:
            assert result.tool_status == "ok" and " ran with {" in result.content
        else:
            assert result.tool_status == "error" and problem in result.content
            assert "Send a JSON object matching the schema" in result.content, "the model is told what to send"
    if expected:
        # The results went back to the server with their calls, and the loop went on to an answer.
        sent = server.bodies[1]["messages"]
        assert sent[1]["tool_calls"] == [c.to_openai() for c in asked.tool_calls]
        assert sent[2:] == [{"role": "tool", "tool_call_id": r.tool_call_id, "content": r.content}
                            for r in results]
        assert conv.messages[-1].role == "assistant" and conv.messages[-1].content
    else:
        assert len(server.bodies) == 1 and [m.role for m in conv.messages] == ["user", "assistant"]
