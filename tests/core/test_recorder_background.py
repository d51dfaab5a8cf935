"""While a reply streams, its periodic saves are written in a thread (the event loop, where
keys are echoed, only serializes), and the saves that end a step still happen at once,
on the loop, without taking the thread's write for another window's."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.core.test_context_meter import until
from tests.core.test_recorder import FakeClock, clock, on_disk, start_turn, store, stream  # noqa: F401
from vllm_chat.core.conversation import Conversation
from vllm_chat.core.events import TurnFinished
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


async def test_a_streaming_reply_is_saved_from_a_thread_and_its_end_on_the_loop(
        store: SessionStore, clock: FakeClock, writers: list[str]) -> None:  # noqa: F811 (fixtures)
    conv = Conversation(model="m")
    recorder = SessionRecorder(store, conv, interval=2.0, clock=clock)
    reply = start_turn(conv, recorder)
    await until(lambda: len(writers) == 1, timeout=30)  # the prompt, once the request is on its way
    clock.now += 2.5
    stream(reply, recorder, "Once upon a time")
    await until(lambda: not recorder.dirty)
    assert on_disk(store, conv)["messages"][1]["content"] == "Once upon a time"
    assert writers[1] != threading.current_thread().name, "written off the event loop's thread"

    clock.now += 2.5
    stream(reply, recorder, ", a reply grew")
    reply.status = "complete"
    recorder.observe(TurnFinished(reply))  # right after: the thread may still be writing
    assert writers[-1] == threading.current_thread().name, "a step's end is saved at once"
    assert on_disk(store, conv)["messages"][1]["content"] == "Once upon a time, a reply grew"
    await until(lambda: recorder._writing is None)
    assert recorder.take_outcomes() == [], "its own write was not taken for another window's"
    assert conv.id == store.list()[0][0].id and len(store.list()[0]) == 1, "no fork"
    assert not recorder.dirty and recorder.last_error is None
