"""`ChatSession` is the one door from a front end into the core: every change a front end
makes through it is saved by the session itself, `status()` is one snapshot of what the
header shows, and a failed save is reported (and recovered from) rather than lost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.conftest import TEST_API_KEY
from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.errors import render_hint
from vllm_chat.core.events import ContentDelta, TurnFailed, TurnFinished
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer


def saved_session(**settings: object) -> tuple[ChatSession, SessionStore]:
    store = SessionStore()
    conv = Conversation(model="m", title="t")
    conv.add(Message(role="user", content="q"))
    conv.add(Message(role="assistant", content="a"))
    store.save(conv)
    return ChatSession(load_settings(dict(settings)), conversation=store.load(conv.id), store=store), store


def on_sim(server: SimServer, store: SessionStore | None = None, model: str = "sim-chat") -> ChatSession:
    """A session talking to `server`, saving into `store` if one is given."""
    return ChatSession(load_settings({"base_url": server.base_url, "api_key": TEST_API_KEY, "model": model}),
                       store=store)


def on_disk(store: SessionStore, session: ChatSession) -> dict:
    return json.loads(store.path_for(session.conversation.id).read_text())


@pytest.mark.parametrize(
    ("change", "field", "expected"),
    [
        (lambda s: s.set_model("other-model"), "model", "other-model"),
        (lambda s: s.set_system_prompt("  Be terse.  "), "system_prompt", "Be terse."),
        (lambda s: s.set_params(SamplingParams(temperature=0.3)), "params", {"temperature": 0.3}),
        (lambda s: s.set_tools(False), "tools_enabled", False),
        (lambda s: s.rename_saved(s.conversation.id, "Renamed"), "title", "Renamed"),
    ],
    ids=["model", "system-prompt", "params", "tools", "rename"],
)
def test_every_change_through_the_session_is_on_disk_at_once(change, field: str, expected: object) -> None:
    session, store = saved_session()
    change(session)
    value = on_disk(store, session)[field]
    if isinstance(expected, dict):
        assert {k: value[k] for k in expected} == expected
    else:
        assert value == expected


def test_deleting_a_message_is_saved_at_once_with_the_message_kept_in_the_file() -> None:
    session, store = saved_session()
    reply = session.conversation.messages[-1]
    session.delete_message(reply.id)
    doc = on_disk(store, session)
    assert [m["content"] for m in doc["messages"]] == ["q"]
    assert doc["removed"][-1]["content"] == "a"


def test_the_status_is_one_snapshot_of_what_the_header_shows() -> None:
    session, _ = saved_session(base_url="http://user:secret@gpu-box:8000/v1")
    seen: list[str] = []
    session.subscribe(lambda: seen.append(session.status().model))
    status = session.status()
    assert status.model == "m" and status.connection == "connecting" and status.activity is None
    assert "secret" not in status.server, "credentials in the URL are never shown"
    session.set_model("next")
    assert seen == ["next"], "listeners hear about each change"
    with pytest.raises(AttributeError):
        status.model = "changed"  # type: ignore[misc]  # a snapshot is immutable


async def test_the_status_follows_a_turn_from_waiting_to_answering_to_idle() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, ttft=0.3, tps=50)) as server:
        session = on_sim(server)
        session.add_user_message("long 30")
        phases = []
        async for event in session.run():
            activity = session.status().activity
            if activity is not None and (not phases or phases[-1] != activity.phase):
                phases.append(activity.phase)
            final = event
        await session.aclose()
    assert isinstance(final, TurnFinished)
    assert phases[:2] == ["waiting", "answering"]
    assert session.status().activity is None
    assert session.status().context_used, "the context meter follows the usage the server reported"


async def test_one_model_resolution_path_the_conversation_then_the_settings_then_the_server() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, models=("first", "second"))) as server:
        base = {"base_url": server.base_url, "api_key": TEST_API_KEY}
        fresh = ChatSession(load_settings(base))
        assert await fresh.ensure_model() == "first"
        configured = ChatSession(load_settings({**base, "model": "second"}))
        assert await configured.ensure_model() == "second"
        assert configured.models == [], "a named model needs no round trip to the server"
        resumed = ChatSession(load_settings({**base, "model": "second"}), conversation=Conversation(model="own"))
        assert await resumed.ensure_model() == "own"
        for session in (fresh, configured, resumed):
            await session.aclose()


async def test_a_failed_reply_keeps_its_kind_and_hint_for_a_reload() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        store = SessionStore()
        session = on_sim(server, store, model="no-such-model")
        session.add_user_message("hello")
        events = [e async for e in session.run()]
        await session.aclose()
    assert isinstance(events[-1], TurnFailed)
    reloaded = store.load(session.conversation.id).messages[-1].failed_with()
    assert reloaded is not None and reloaded.kind == "unknown_model"
    assert reloaded.hint == events[-1].error.hint and reloaded.actions == ("pick-model", "retry")


def test_hints_name_steps_each_front_end_spells_its_own_way() -> None:
    hint = "It serves: a, b. Pick one with {pick-model}."
    assert render_hint(hint, {"pick-model": "ctrl+o"}) == "It serves: a, b. Pick one with ctrl+o."
    assert render_hint(hint, {"pick-model": "-m NAME"}) == "It serves: a, b. Pick one with -m NAME."
    assert render_hint("a {json} b {unknown-id}", {}) == "a {json} b {unknown-id}", "unknown ids are left alone"


def test_a_failing_save_is_reported_kept_in_memory_and_cleared_once_saving_works(tmp_path: Path) -> None:
    session, store = saved_session()
    root = store.root
    heard: list[str] = []
    session.subscribe(lambda: heard.append(session.status().save_problem))
    moved = tmp_path / "moved"
    root.rename(moved)
    root.write_text("a file where the sessions folder was")
    session.set_model("while-broken")
    assert session.status().save_problem and heard[-1], "the failure is in the status at once"
    rescued = session.rescue()
    assert rescued is not None and json.loads(rescued.read_text())["model"] == "while-broken"
    assert rescued.stat().st_mode & 0o777 == 0o600
    root.unlink()
    moved.rename(root)
    session.set_system_prompt("after the fix")
    assert session.status().save_problem == "" and heard[-1] == ""
    assert on_disk(store, session)["model"] == "while-broken", "what was kept in memory reached the disk"
    rescued.unlink()


async def test_closing_mid_reply_saves_it_stopped_with_every_word_received(tmp_path: Path) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, tps=100)) as server:
        store = SessionStore()
        session = on_sim(server, store)
        session.add_user_message("long 2000")
        received: list[str] = []

        async def consume() -> None:  # as the TUI's turn worker does, while the user quits
            async for event in session.run():
                if isinstance(event, ContentDelta):
                    received.append(event.text)

        consumer = asyncio.create_task(consume())
        while len("".join(received)) < 300:
            await asyncio.sleep(0.01)
        await session.aclose()
        consumer.cancel()  # the app exits: its workers end with it
        await asyncio.gather(consumer, return_exceptions=True)
    reply = on_disk(store, session)["messages"][-1]
    assert reply["status"] == "stopped", "saved as stopped, not as a reply interrupted by a crash"
    assert reply["content"].startswith("".join(received)) and len(reply["content"]) >= 300


async def test_a_turn_is_on_disk_whole_once_its_events_are_all_taken() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        store = SessionStore()
        session = on_sim(server, store)
        session.add_user_message("echo saved whole")
        async for _event in session.run():
            pass
        reply = on_disk(store, session)["messages"][-1]  # no wait: the iteration waited for it
        await session.aclose()
    assert (reply["content"], reply["status"]) == ("saved whole", "complete")


async def test_a_consumer_that_stops_at_the_turns_end_can_start_the_next_turn_at_once() -> None:
    # As the chat screen does: the turn is over at its last event, and its last save, still
    # being written, and its engine run, closed then, never touch the next turn.
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        store = SessionStore()
        session = on_sim(server, store)
        ends = []
        for word in ("one", "two", "three"):
            session.add_user_message(f"echo {word}")
            events = session.run()
            async for event in events:
                if isinstance(event, (TurnFinished, TurnFailed)):
                    ends.append(event)
                    break
            await events.aclose()
            assert not session.running
        await session.aclose()
    assert [type(end) for end in ends] == [TurnFinished] * 3
    assert [m["content"] for m in on_disk(store, session)["messages"]] == [
        "echo one", "one", "echo two", "two", "echo three", "three"]
