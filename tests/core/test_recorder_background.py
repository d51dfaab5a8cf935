"""Within a turn, saves are written in a thread (the event loop, where keys are echoed, only
serializes): a streaming reply's periodic saves, the prompt's just after the turn starts, a
round's tool calls and each tool's result, one write at a time. So is the save at a turn's
end, which `settled()` waits for, and none takes the thread's write for another window's."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.core.test_context_meter import until
from tests.core.test_recorder import FakeClock, clock, on_disk, start_turn, store, stream  # noqa: F401
from vllm_chat.core.conversation import Conversation, Message, ToolCall
from vllm_chat.core.events import ToolCallReady, ToolResult, TurnFinished
from vllm_chat.core.recorder import SessionRecorder
from vllm_chat.core.store import SessionStore
from vllm_chat.core.store import sessions as store_sessions


@pytest.fixture
def writers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the threads that wrote session files, in order."""
    seen: list[str] = []
    write = store_sessions.atomic_write

    def atomic_write(path: Path, data: bytes) -> None:
        seen.append(threading.current_thread().name)
        write(path, data)

    monkeypatch.setattr(store_sessions, "atomic_write", atomic_write)
    return seen


async def test_a_streaming_reply_and_its_end_are_saved_from_a_thread_and_settled_waits_for_the_end(
        store: SessionStore, clock: FakeClock, writers: list[str]) -> None:  # noqa: F811 (fixtures)
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=2.0, clock=clock)
    reply = start_turn(conv, recorder)
    await until(lambda: len(writers) == 1, timeout=30)  # the prompt, once the request is on its way
    assert writers[0] != threading.current_thread().name, "the prompt too: the history may be huge"
    await until(lambda: recorder._writing is None)
    clock.now += 2.5
    stream(reply, recorder, "Once upon a time")
    await until(lambda: not recorder.dirty)
    assert on_disk(store, conv)["messages"][1]["content"] == "Once upon a time"
    assert writers[1] != threading.current_thread().name, "written off the event loop's thread"

    clock.now += 2.5
    stream(reply, recorder, ", a reply grew")
    reply.status = "complete"
    recorder.observe(TurnFinished(reply))  # right after: the thread may still be writing
    assert len(writers) <= 3, "the end is not written on the loop, at once"
    await recorder.settled()
    assert on_disk(store, conv)["messages"][1]["content"] == "Once upon a time, a reply grew"
    assert writers[-1] != threading.current_thread().name, "the end too: the history may be huge"
    assert recorder._writing is None
    assert recorder.take_outcomes() == [], "its own write was not taken for another window's"
    assert conv.id == store.list()[0][0].id and len(store.list()[0]) == 1, "no fork"
    assert not recorder.dirty and recorder.last_error is None


async def test_a_turn_end_save_keeps_the_loop_free_while_it_is_written(
        store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811 (fixture)
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=60.0)
    reply = start_turn(conv, recorder)
    await recorder.settled()
    written = threading.Event()
    write = store_sessions.atomic_write

    def slow_write(path: Path, data: bytes) -> None:
        written.wait(10)  # a slow disk: the write ends when the loop has shown it runs meanwhile
        write(path, data)

    monkeypatch.setattr(store_sessions, "atomic_write", slow_write)
    reply.content, reply.status = "done", "complete"
    recorder.observe(TurnFinished(reply))
    await until(lambda: recorder._writing is not None)
    written.set()  # only the loop, running while the write waits, can get here
    await recorder.settled()
    assert on_disk(store, conv)["messages"][1]["content"] == "done"
    assert not recorder.dirty and recorder.last_error is None


async def test_a_rounds_tool_calls_and_results_are_saved_at_once_from_a_thread_each_in_turn(
        store: SessionStore, clock: FakeClock, writers: list[str]) -> None:  # noqa: F811 (fixtures)
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=60.0, clock=clock)
    reply = start_turn(conv, recorder, "What is 6*7?")
    await until(lambda: len(writers) == 1 and recorder._writing is None, timeout=30)
    call = ToolCall(id="c1", name="calculator", arguments='{"expression": "6*7"}')
    reply.tool_calls, reply.status = [call], "complete"
    recorder.observe(ToolCallReady(call))
    result = conv.add(Message(role="tool", content="42", tool_call_id=call.id, tool_status="ok"))
    recorder.observe(ToolResult(call, result))  # an unknown tool: its result comes at once
    await until(lambda: not recorder.dirty and recorder._writing is None, timeout=30)
    assert len(writers) == 2, "the calls and their result at once: one save, not two"
    doc = on_disk(store, conv)
    assert doc["messages"][1]["tool_calls"][0]["id"] == "c1"
    assert doc["messages"][2]["content"] == "42"
    # A write under way (a streaming save), and a step's save asked for meanwhile: it follows.
    second = conv.add(Message(role="assistant", status="streaming", model="m"))
    recorder._save_off_loop()
    second.content = "It is"
    recorder.observe(ToolResult(call, result))
    await until(lambda: not recorder.dirty and recorder._writing is None and recorder._later is None, timeout=30)
    assert on_disk(store, conv)["messages"][3]["content"] == "It is", "a save asked for meanwhile follows"
    loop_thread = threading.current_thread().name
    assert len(writers) >= 2 and all(name != loop_thread for name in writers), "off the loop's thread"
    second.content, second.status = "It is 42.", "complete"
    recorder.observe(TurnFinished(second))
    await recorder.settled()
    assert writers[-1] != loop_thread, "the turn's end as well"
    assert on_disk(store, conv)["messages"][3]["content"] == "It is 42."


async def test_a_save_made_later_waits_while_the_users_input_is_on_its_way(
        store: SessionStore, clock: FakeClock, writers: list[str]) -> None:  # noqa: F811 (fixtures)
    from tests.core.test_loop_share import Input
    from vllm_chat.core.loop_share import LoopShare

    share = LoopShare()
    share.input_waiting = waiting = Input(looks=3)
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=2.0, clock=clock, loop_share=share)
    start_turn(conv, recorder)
    await until(lambda: len(writers) == 1, timeout=30)
    assert waiting.asked == 4, "the prompt's save waited until the input was shown"
