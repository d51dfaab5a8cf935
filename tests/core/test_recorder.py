"""The session recorder: saves at every step of a turn and at least every `interval` while a
reply streams, so that a crash (even `kill -9`) loses at most the last moments of a reply."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from vllm_chat.core.conversation import Conversation, Message, ToolCall, Usage
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import (
    ContentDelta,
    ReasoningDelta,
    ToolApprovalNeeded,
    ToolCallDelta,
    ToolCallReady,
    ToolResult,
    ToolRunning,
    TurnFailed,
    TurnFinished,
    TurnStarted,
    TurnStopped,
    UsageUpdated,
)
from vllm_chat.core.paths import ensure_private_dir
from vllm_chat.core.recorder import SessionRecorder
from vllm_chat.core.store import INTERRUPTED, SessionStore, StoreError


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SessionStore:
    """A store in a temporary data folder, as the app builds it."""
    monkeypatch.setenv("VLLM_CHAT_DATA_DIR", str(tmp_path / "data"))
    s = SessionStore()
    ensure_private_dir(s.root)
    return s


@pytest.fixture
def clock() -> FakeClock:
    """A clock that only moves when the test says so."""
    return FakeClock()


def on_disk(store: SessionStore, conv: Conversation) -> dict:
    """The raw saved document (not loaded, so `streaming` is still visible)."""
    return json.loads(store.path_for(conv.id).read_text())


def start_turn(conv: Conversation, recorder: SessionRecorder, prompt: str = "Tell me a story") -> Message:
    """What the engine does when a turn starts: prompt, then an empty streaming reply."""
    conv.add(Message(role="user", content=prompt))
    reply = conv.add(Message(role="assistant", status="streaming", model="m"))
    recorder.observe(TurnStarted(reply, 1))
    return reply


def stream(reply: Message, recorder: SessionRecorder, text: str) -> None:
    """What the engine does for one content delta: extend the reply, then emit the event."""
    reply.content += text
    recorder.observe(ContentDelta(text))


def test_the_prompt_is_saved_as_soon_as_the_request_is_sent(store: SessionStore, clock: FakeClock) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=2.0, clock=clock)
    start_turn(conv, recorder)
    doc = on_disk(store, conv)
    assert [(m["role"], m["content"], m["status"]) for m in doc["messages"]] == [
        ("user", "Tell me a story", "complete"), ("assistant", "", "streaming"),
    ]


def test_while_streaming_it_saves_once_per_interval(store: SessionStore, clock: FakeClock) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=2.0, clock=clock)
    reply = start_turn(conv, recorder)
    saved_contents = []
    for step in range(1, 21):  # a delta every 0.5 s for 10 s
        clock.now += 0.5
        stream(reply, recorder, f"w{step} ")
        saved_contents.append(on_disk(store, conv)["messages"][1]["content"])
    # Saved at 2.0, 4.0, ... seconds: after deltas 4, 8, 12, 16 and 20.
    expected_points = {4, 8, 12, 16, 20}
    for step, content in enumerate(saved_contents, start=1):
        last_saved = max((p for p in expected_points if p <= step), default=0)
        assert content == "".join(f"w{i} " for i in range(1, last_saved + 1)), step
    assert recorder.saves == 1 + len(expected_points)
    assert on_disk(store, conv)["messages"][1]["status"] == "streaming"


def test_fast_deltas_do_not_save_more_often_than_the_interval(store: SessionStore, clock: FakeClock) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=2.0, clock=clock)
    reply = start_turn(conv, recorder)
    for _ in range(1000):  # 1000 tokens in 1 s
        clock.now += 0.001
        stream(reply, recorder, "x")
    assert recorder.saves == 1
    assert recorder.dirty


def test_reasoning_and_tool_call_deltas_also_count_as_streaming(store: SessionStore, clock: FakeClock) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=1.0, clock=clock)
    reply = start_turn(conv, recorder)
    clock.now += 1.0
    reply.reasoning = "thinking"
    recorder.observe(ReasoningDelta("thinking"))
    assert on_disk(store, conv)["messages"][1]["reasoning"] == "thinking"
    clock.now += 1.0
    reply.tool_calls = [ToolCall(id="c1", name="calculator", arguments='{"expr')]
    recorder.observe(ToolCallDelta(0, "c1", "calculator", '{"expr'))
    assert on_disk(store, conv)["messages"][1]["tool_calls"][0]["arguments"] == '{"expr'
    clock.now += 1.0
    reply.usage = Usage(prompt_tokens=3, completion_tokens=4)
    recorder.observe(UsageUpdated(reply.usage))
    assert on_disk(store, conv)["usage_total"]["completion_tokens"] == 4
    assert recorder.saves == 4


@pytest.mark.parametrize("ending", ["finished", "stopped", "failed"])
def test_the_end_of_a_turn_is_saved_at_once(store: SessionStore, clock: FakeClock, ending: str) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=60.0, clock=clock)
    reply = start_turn(conv, recorder)
    stream(reply, recorder, "Once upon a time")
    if ending == "finished":
        reply.status, reply.finish_reason = "complete", "stop"
        recorder.observe(TurnFinished(reply))
    elif ending == "stopped":
        reply.status = "stopped"
        recorder.observe(TurnStopped(reply))
    else:
        reply.status, reply.error = "failed", "The server closed the stream."
        recorder.observe(TurnFailed(ChatError("truncated", "The server closed the stream."), reply))
    saved = store.load(conv.id)
    assert saved.messages[1].content == "Once upon a time"
    assert saved.messages[1].status == {"finished": "complete", "stopped": "stopped", "failed": "failed"}[ending]
    assert not recorder.dirty


def test_tool_rounds_are_saved_at_each_step(store: SessionStore, clock: FakeClock) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=60.0, clock=clock)
    reply = start_turn(conv, recorder, "What is 6*7?")
    call = ToolCall(id="chatcmpl-tool-1", name="calculator", arguments='{"expression": "6*7"}')
    reply.tool_calls, reply.status = [call], "complete"
    recorder.observe(ToolCallReady(call))
    recorder.observe(ToolApprovalNeeded(call))
    assert on_disk(store, conv)["messages"][1]["tool_calls"][0]["name"] == "calculator"
    recorder.observe(ToolRunning(call, time.monotonic()))
    result = conv.add(Message(role="tool", content="42", tool_call_id=call.id, name="calculator",
                              tool_status="ok"))
    recorder.observe(ToolResult(call, result))
    assert on_disk(store, conv)["messages"][2]["content"] == "42"
    second = conv.add(Message(role="assistant", status="streaming", model="m"))
    recorder.observe(TurnStarted(second, 2))
    assert len(on_disk(store, conv)["messages"]) == 4


def test_a_rounds_tool_calls_are_saved_at_once_when_ready_once_per_round(
    store: SessionStore, clock: FakeClock
) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=60.0, clock=clock)
    reply = start_turn(conv, recorder, "What is 6*7 and the time?")
    calls = [ToolCall(id="c1", name="calculator", arguments='{"expression": "6*7"}'),
             ToolCall(id="c2", name="datetime", arguments="{}")]
    reply.tool_calls, reply.status = calls, "complete"
    saves = recorder.saves
    recorder.observe(ToolCallReady(calls[0]))
    assert [c["id"] for c in on_disk(store, conv)["messages"][1]["tool_calls"]] == ["c1", "c2"]
    assert on_disk(store, conv)["messages"][1]["status"] == "complete"
    recorder.observe(ToolCallReady(calls[1]))
    recorder.observe(ToolRunning(calls[0], time.monotonic()))
    assert recorder.saves == saves + 1, "one save per round, not one per call"
    for call in calls:
        result = conv.add(Message(role="tool", content="x", tool_call_id=call.id, tool_status="ok"))
        recorder.observe(ToolResult(call, result))
    second = conv.add(Message(role="assistant", status="streaming", model="m"))
    recorder.observe(TurnStarted(second, 2))
    second.tool_calls, second.status = [ToolCall(id="c3", name="datetime", arguments="{}")], "complete"
    saves = recorder.saves
    recorder.observe(ToolCallReady(second.tool_calls[0]))
    assert recorder.saves == saves + 1, "the next round's calls are saved at once too"
    assert on_disk(store, conv)["messages"][-1]["tool_calls"][0]["id"] == "c3"


def test_a_stalled_stream_is_saved_by_tick(store: SessionStore, clock: FakeClock) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=2.0, clock=clock)
    reply = start_turn(conv, recorder)
    clock.now += 0.1
    stream(reply, recorder, "partial")
    recorder.tick()
    assert on_disk(store, conv)["messages"][1]["content"] == ""
    clock.now += 5
    recorder.tick()
    assert on_disk(store, conv)["messages"][1]["content"] == "partial"


def test_text_joined_into_the_reply_at_a_stall_is_saved_though_no_event_announced_it(
        store: SessionStore, clock: FakeClock) -> None:
    # The engine joins streamed deltas into the reply only now and then: a save made on the
    # deltas' events may hold none of their text, and at a stall the engine joins it in.
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=2.0, clock=clock)
    reply = start_turn(conv, recorder)
    recorder.observe(ContentDelta("Text before the stall."))  # counted, not yet in the reply
    recorder.save_now()
    assert on_disk(store, conv)["messages"][1]["content"] == "" and not recorder.dirty
    reply.content = "Text before the stall."  # the engine's sync at the stall
    clock.now += 5
    recorder.idle(synced=True)
    assert on_disk(store, conv)["messages"][1]["content"] == "Text before the stall."


def test_changes_outside_the_engine_are_saved_on_request(store: SessionStore, clock: FakeClock) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, clock=clock)
    start_turn(conv, recorder)
    conv.title = "Renamed in the UI"
    recorder.mark_changed()
    assert recorder.dirty
    assert recorder.save_now()
    assert store.load(conv.id).title == "Renamed in the UI"


def test_a_failing_disk_is_reported_once_and_never_raises(store: SessionStore, clock: FakeClock) -> None:
    conv = Conversation(model="m")
    errors: list[StoreError | None] = []
    recorder = SessionRecorder(store, conv, interval=1.0, clock=clock, on_state=errors.append)
    store.root.rmdir()
    store.root.write_text("not a folder any more")
    reply = start_turn(conv, recorder)
    for _ in range(5):
        clock.now += 1.0
        stream(reply, recorder, "x")
    assert len(errors) == 1
    assert "can't save session" in str(errors[0])
    assert recorder.last_error is not None and recorder.dirty
    store.root.unlink()
    store.root.mkdir()
    clock.now += 1.0
    stream(reply, recorder, "y")
    assert recorder.last_error is None
    assert errors[-1] is None, "a save that works again is reported too (the banner goes away)"
    assert on_disk(store, conv)["messages"][1]["content"] == "xxxxxy"


def test_a_clash_with_an_unreadable_file_moves_the_session_to_a_new_id(
    store: SessionStore, clock: FakeClock
) -> None:
    (store.root / "taken.json").write_bytes(b"{precious but broken")
    conv = Conversation(id="taken", model="m")
    recorder = SessionRecorder(store, conv, clock=clock)
    start_turn(conv, recorder)
    assert conv.id != "taken"
    assert (store.root / "taken.json").read_bytes() == b"{precious but broken"
    assert store.load(conv.id).messages[0].content == "Tell me a story"


KILLED_WHILE_STREAMING = textwrap.dedent(
    r"""
    import sys, time
    from vllm_chat.core.conversation import Conversation, Message, Usage
    from vllm_chat.core.events import ContentDelta, TurnFinished, TurnStarted
    from vllm_chat.core.recorder import SessionRecorder
    from vllm_chat.core.store import SessionStore

    store = SessionStore()
    conv = Conversation(id=sys.argv[1], title="kill test", model="m")
    recorder = SessionRecorder(store, conv, interval=0.05)
    conv.add(Message(role="user", content="first question"))
    first = conv.add(Message(role="assistant", status="streaming", model="m"))
    recorder.observe(TurnStarted(first, 1))
    first.content, first.status = "first answer", "complete"
    first.usage = Usage(prompt_tokens=5, completion_tokens=2)
    recorder.observe(TurnFinished(first))
    conv.add(Message(role="user", content="second question"))
    reply = conv.add(Message(role="assistant", status="streaming", model="m"))
    recorder.observe(TurnStarted(reply, 1))
    i = 0
    while True:
        piece = f"w{i} "
        reply.content += piece
        recorder.observe(ContentDelta(piece))
        i += 1
        time.sleep(0.001)
    """
)


def kill_when_saved(script: str, sid: str, store: SessionStore, saved, env: dict[str, str] | None = None) -> None:
    """Run `script` in a child, wait until the saved file satisfies `saved(doc)`, then `kill -9` it."""
    child = subprocess.Popen([sys.executable, "-c", script, sid], env=env or os.environ.copy(),
                             stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the child never saved what was expected"
            try:
                if saved(json.loads(store.path_for(sid).read_text())):
                    break
            except (OSError, ValueError, LookupError):
                pass
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL


def test_a_kill_9_mid_reply_keeps_earlier_messages_and_most_of_the_reply(store: SessionStore) -> None:
    sid = "killed0123"
    kill_when_saved(KILLED_WHILE_STREAMING, sid, store,
                    lambda doc: len(doc["messages"]) == 4 and doc["messages"][3]["content"].count(" ") >= 200)
    conv = store.load(sid)
    assert [(m.role, m.content, m.status) for m in conv.messages[:3]] == [
        ("user", "first question", "complete"),
        ("assistant", "first answer", "complete"),
        ("user", "second question", "complete"),
    ]
    assert conv.messages[1].usage == Usage(prompt_tokens=5, completion_tokens=2)
    partial = conv.messages[3]
    assert partial.status == "stopped" and partial.error == INTERRUPTED
    words = partial.content.split()
    assert len(words) >= 200
    assert words == [f"w{i}" for i in range(len(words))]
    summaries, unreadable = store.list()
    assert [s.id for s in summaries] == [sid] and unreadable == []


def test_a_new_chat_left_empty_leaves_no_file(store: SessionStore, clock: FakeClock) -> None:
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, clock=clock)
    conv.title = "nothing said yet"
    recorder.mark_changed()
    assert recorder.save_now()
    assert not recorder.dirty
    assert list(store.root.glob("*.json")) == []
    assert store.list() == ([], [])


def test_an_unexpected_error_while_saving_is_reported_not_raised(
    store: SessionStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[StoreError | None] = []
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, clock=clock, on_state=errors.append)

    def broken(conv: Conversation) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(store, "save", broken)
    start_turn(conv, recorder)
    assert "RuntimeError('bug')" in str(errors[0])
    assert recorder.dirty


STALLED_SERVER_AND_SESSION = textwrap.dedent(
    r"""
    import asyncio, json, sys
    from aiohttp import web
    from vllm_chat.core.config import load_settings
    from vllm_chat.core.conversation import Conversation
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store import SessionStore

    def chunk(text):
        doc = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 0, "model": "m",
               "choices": [{"index": 0, "delta": {"content": text}, "finish_reason": None}]}
        return f"data: {json.dumps(doc)}\n\n".encode()

    async def chat(request):
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for piece in ["Text ", "before ", "the ", "stall."]:
            await response.write(chunk(piece))
        await asyncio.sleep(3600)  # the stall: not a byte more

    async def main():
        app = web.Application()
        app.router.add_post("/v1/chat/completions", chat)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        settings = load_settings({"base_url": f"http://127.0.0.1:{port}/v1", "model": "m",
                                  "tools": {"enabled": False}, "sessions": {"save_interval": 0.2}})
        session = ChatSession(settings, conversation=Conversation(id=sys.argv[1], model="m"),
                              store=SessionStore())
        session.add_user_message("tell me")
        async for event in session.run():
            pass

    asyncio.run(main())
    """
)

RUNNING_A_LONG_TOOL = textwrap.dedent(
    r"""
    import asyncio, sys
    from vllm_chat.core.config import load_settings
    from vllm_chat.core.conversation import Conversation
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.store import SessionStore
    from vllm_chat.simserver import SimConfig, SimServer

    async def main():
        async with SimServer(SimConfig()) as server:
            tools = {"builtins": [], "timeout": 3600,
                     "python": [{"function": "sample_tool_functions:block", "name": "block"}]}
            settings = load_settings({"base_url": server.base_url, "model": "sim-chat", "tools": tools,
                                      "sessions": {"save_interval": 3600}})
            session = ChatSession(settings, conversation=Conversation(id=sys.argv[1], model="sim-chat"),
                                  store=SessionStore())
            session.add_user_message("block for 600 seconds")
            async for event in session.run():
                pass

    asyncio.run(main())
    """
)


def test_text_received_before_a_stall_is_saved_while_the_stream_stalls(store: SessionStore) -> None:
    sid = "stalled0123"
    kill_when_saved(STALLED_SERVER_AND_SESSION, sid, store,
                    lambda doc: doc["messages"][1]["content"] == "Text before the stall.")
    reply = store.load(sid).messages[1]
    assert (reply.content, reply.status, reply.error) == ("Text before the stall.", "stopped", INTERRUPTED)


def test_a_replys_tool_calls_are_on_disk_while_the_tool_runs(store: SessionStore) -> None:
    from vllm_chat.core.turn_request import request_messages

    sid = "toolrun0123"
    env = os.environ.copy()
    env["PYTHONPATH"] = os.pathsep.join([str(Path(__file__).parent / "tools"), env.get("PYTHONPATH", "")])
    kill_when_saved(RUNNING_A_LONG_TOOL, sid, store,
                    lambda doc: doc["messages"][1]["tool_calls"][0]["arguments"] == '{"seconds": 600.0}', env)
    conv = store.load(sid)
    [call] = conv.messages[1].tool_calls
    assert call.name == "block" and [m.role for m in conv.messages] == ["user", "assistant"]
    # Resumed, the call that never got its result is left out of the next request.
    assert [m.get("tool_calls") for m in request_messages(conv.to_openai())] == [None, None]
