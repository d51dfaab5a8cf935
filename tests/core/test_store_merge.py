"""Two windows on one session: a save never overwrites what the other wrote. Both sides' messages
are kept (as versions where they diverge), one-sided changes win, and what can't be merged is saved
as a session of its own that says where it came from. (Real processes: test_store_races.py.)"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vllm_chat.core import tree
from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import INTERRUPTED, SessionStore


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "sessions"


def window(root: Path, session_id: str) -> tuple[SessionStore, Conversation]:
    """What a second vllm-chat does with `--resume ID`: its own store, the session loaded."""
    store = SessionStore(root)
    return store, store.load(session_id)


def started(root: Path, *texts: str) -> Conversation:
    conv = Conversation(title="Shared")
    for i, text in enumerate(texts):
        conv.add(Message(role="user" if i % 2 == 0 else "assistant", content=text))
    SessionStore(root).save(conv)
    return conv


def on_disk(root: Path, session_id: str) -> Conversation:
    return SessionStore(root).load(session_id)


def every_text(conv: Conversation) -> set[str]:
    return {m.content for m in (*conv.messages, *conv.aside)}


def test_two_windows_that_both_appended_keep_both_branches(root: Path) -> None:
    conv = started(root, "q1", "a1")
    store_a, a = window(root, conv.id)
    store_b, b = window(root, conv.id)
    a.add(Message(role="user", content="from A"))
    a.add(Message(role="assistant", content="answer A"))
    assert store_a.save(a).merged is None
    b.add(Message(role="user", content="from B"))
    b.add(Message(role="assistant", content="answer B"))
    outcome = store_b.save(b)
    assert outcome.merged is not None and outcome.merged.added == 2 and outcome.merged.fork_at == 3
    assert "2 messages from another window are kept as another version of message 3" in outcome.notice
    saved = on_disk(root, conv.id)
    assert every_text(saved) == {"q1", "a1", "from A", "answer A", "from B", "answer B"}
    assert [m.content for m in saved.messages] == ["q1", "a1", "from B", "answer B"], "B's view is B's"
    assert [m.content for m in tree.alternatives(saved, saved.messages[2].id)] == ["from A", "from B"]
    assert b == saved, "window B holds what it wrote, A's branch included"
    tree.choose(saved, saved.messages[2].id, 1)
    assert [m.content for m in saved.messages] == ["q1", "a1", "from A", "answer A"]


def test_window_a_saving_again_after_b_merged_keeps_everything(root: Path) -> None:
    conv = started(root, "q1", "a1")
    store_a, a = window(root, conv.id)
    store_b, b = window(root, conv.id)
    for turn in range(3):
        a.add(Message(role="user", content=f"A{turn}"))
        store_a.save(a)
        b.add(Message(role="user", content=f"B{turn}"))
        store_b.save(b)
    saved = on_disk(root, conv.id)
    assert every_text(saved) == {"q1", "a1"} | {f"A{t}" for t in range(3)} | {f"B{t}" for t in range(3)}
    assert json.loads(saved.model_dump_json()) == json.loads(b.model_dump_json())


def test_a_window_that_added_nothing_follows_the_other_windows_messages(root: Path) -> None:
    conv = started(root, "q1", "a1")
    store_a, a = window(root, conv.id)
    store_b, b = window(root, conv.id)
    a.add(Message(role="user", content="q2"))
    a.add(Message(role="assistant", content="a2"))
    store_a.save(a)
    b.model = "another-model"  # a settings change only
    outcome = store_b.save(b)
    assert outcome.merged is not None and outcome.merged.shown_added == 2
    assert "2 messages from another window were added" in outcome.notice
    assert [m.content for m in b.messages] == ["q1", "a1", "q2", "a2"]
    saved = on_disk(root, conv.id)
    assert saved.model == "another-model" and [m.content for m in saved.messages] == ["q1", "a1", "q2", "a2"]


def test_a_reply_finished_in_another_window_replaces_the_interrupted_copy(root: Path) -> None:
    conv = started(root, "q1")
    streaming = conv.add(Message(role="assistant", content="Half a re", status="streaming"))
    store_a = SessionStore(root)
    store_a.save(conv)  # window A, mid-stream
    store_b, b = window(root, conv.id)
    assert b.messages[-1].status == "stopped" and b.messages[-1].error == INTERRUPTED
    streaming.content, streaming.status = "Half a reply, now whole.", "complete"
    store_a.save(conv)
    b.add(Message(role="user", content="thanks"))
    outcome = store_b.save(b)
    assert outcome.merged is not None and outcome.forked_from is None
    saved = on_disk(root, conv.id)
    assert [(m.content, m.status) for m in saved.messages] == [
        ("q1", "complete"), ("Half a reply, now whole.", "complete"), ("thanks", "complete")]
    assert b.messages[1].content == "Half a reply, now whole.", "window B shows the whole reply too"


def test_one_message_changed_in_both_windows_saves_this_one_as_its_own_session(root: Path) -> None:
    conv = started(root, "q1", "a reply")
    store_a, a = window(root, conv.id)
    store_b, b = window(root, conv.id)
    a.messages[-1].content += " continued in A"
    store_a.save(a)
    written_by_a = store_a.path_for(conv.id).read_bytes()
    b.messages[-1].content += " continued in B"
    outcome = store_b.save(b)
    assert outcome.forked_from == conv.id and b.id != conv.id
    assert store_b.path_for(conv.id).read_bytes() == written_by_a, "A's file is left as A wrote it"
    assert outcome.path == store_b.path_for(b.id)
    assert b.id in outcome.notice and str(outcome.path) in outcome.notice and conv.id in outcome.notice
    mine = on_disk(root, b.id)
    assert mine.messages[-1].content == "a reply continued in B"
    assert mine.origin is not None and (mine.origin.session_id, mine.origin.reason) == (conv.id, "conflict")


def test_a_message_deleted_in_one_window_stays_deleted_when_the_other_saves(root: Path) -> None:
    conv = started(root, "q1", "a1", "q2", "a2")
    store_a, a = window(root, conv.id)
    store_b, b = window(root, conv.id)
    tree.remove(a, 1, 2)  # A deletes "a1"
    store_a.save(a)
    b.add(Message(role="user", content="q3"))
    outcome = store_b.save(b)
    assert outcome.merged is not None and outcome.merged.deleted == 1
    saved = on_disk(root, conv.id)
    assert [m.content for m in saved.messages] == ["q1", "q2", "a2", "q3"]
    assert [m.content for m in saved.removed] == ["a1"]


def test_a_rename_from_elsewhere_survives_the_open_windows_next_save(root: Path) -> None:
    conv = started(root, "q1", "a1")
    store, open_conv = window(root, conv.id)
    SessionStore(root).rename(conv.id, "Renamed in the browser")
    open_conv.add(Message(role="user", content="q2"))
    store.save(open_conv)
    saved = on_disk(root, conv.id)
    assert saved.title == "Renamed in the browser"
    assert [m.content for m in saved.messages] == ["q1", "a1", "q2"]


def test_a_conversation_that_was_never_read_from_the_file_does_not_overwrite_it(root: Path) -> None:
    conv = started(root, "q1", "a1")
    stranger = conv.model_copy(deep=True)
    stranger._disk = None  # e.g. built from an export, with the same id
    stranger.add(Message(role="user", content="q2 from the stranger"))
    outcome = SessionStore(root).save(stranger)
    assert outcome.forked_from is None
    assert [m.content for m in on_disk(root, conv.id).messages] == ["q1", "a1", "q2 from the stranger"]


def test_a_file_deleted_while_open_is_written_again(root: Path) -> None:
    conv = started(root, "q1", "a1")
    store, open_conv = window(root, conv.id)
    SessionStore(root).delete(conv.id)
    open_conv.add(Message(role="user", content="still typing"))
    store.save(open_conv)
    assert [m.content for m in on_disk(root, conv.id).messages] == ["q1", "a1", "still typing"]


# --- the window side: noticing, reloading ----------------------------------------------------


def session_on(root: Path, session_id: str) -> ChatSession:
    store = SessionStore(root)
    return ChatSession(load_settings(), conversation=store.load(session_id), store=store)


def test_a_change_on_disk_is_reported_once_and_reload_shows_it(root: Path) -> None:
    conv = started(root, "q1", "a1")
    watcher = session_on(root, conv.id)
    assert watcher.disk_change() is None
    store_a, a = window(root, conv.id)
    a.add(Message(role="user", content="q2 elsewhere"))
    a.add(Message(role="assistant", content="a2 elsewhere"))
    store_a.save(a)
    change = watcher.disk_change()
    assert change is not None and change.new_messages == 2
    assert watcher.disk_change() is None, "offered once per change"
    a.messages[-1].content += " and more"  # the other window's reply goes on streaming
    store_a.save(a)
    assert watcher.disk_change() is None, "not offered again at every save of a streaming reply"
    a.add(Message(role="user", content="q3 elsewhere"))
    store_a.save(a)
    assert watcher.disk_change().new_messages == 3, "a new message is offered again"
    watcher.reload()
    assert [m.content for m in watcher.conversation.messages] == [
        "q1", "a1", "q2 elsewhere", "a2 elsewhere and more", "q3 elsewhere"]
    assert watcher.disk_change() is None
    a.add(Message(role="user", content="q4 elsewhere"))
    store_a.save(a)
    assert watcher.disk_change().new_messages == 1


def test_reload_after_both_windows_wrote_shows_the_newest_branch_and_keeps_ours(root: Path) -> None:
    conv = started(root, "q1", "a1")
    watcher = session_on(root, conv.id)
    watcher.add_user_message("mine, unsaved")
    store_a, a = window(root, conv.id)
    a.add(Message(role="user", content="theirs"))
    store_a.save(a)
    watcher.conversation.messages[-1].created_at = 0.0 + a.messages[-1].created_at - 1
    watcher.reload()
    conv_now = watcher.conversation
    assert [m.content for m in conv_now.messages] == ["q1", "a1", "theirs"]
    assert [m.content for m in tree.alternatives(conv_now, conv_now.messages[-1].id)] == ["mine, unsaved", "theirs"]


def test_a_save_that_merged_is_reported_to_the_window(root: Path) -> None:
    conv = started(root, "q1", "a1")
    watcher = session_on(root, conv.id)
    store_a, a = window(root, conv.id)
    a.add(Message(role="user", content="theirs"))
    store_a.save(a)
    watcher.add_user_message("mine")
    watcher.set_system_prompt("Be brief.")  # any change the session saves at once
    [outcome] = watcher.take_save_outcomes()
    assert "another version of message 3" in outcome.notice
    assert watcher.take_save_outcomes() == []
    assert watcher.versions() == {watcher.conversation.messages[-1].id: (2, 2)}
