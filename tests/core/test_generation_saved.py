"""The generation controls in the session file: saved with the conversation, read back from a
file written before they existed, and kept when another window changed them."""

from __future__ import annotations

import json
from pathlib import Path

from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.generation.constraint_input import regex_constraint
from vllm_chat.core.generation.reasoning import ReasoningControls
from vllm_chat.core.store import SessionStore


def test_mode_constraint_and_reasoning_controls_are_saved_and_read_back(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    conv = Conversation(kind="completion", constraint=regex_constraint("[a-z]+"),
                        reasoning_controls=ReasoningControls(reasoning_effort="low"))
    conv.add(Message(role="user", content="q"))
    store.save(conv)
    doc = json.loads(store.path_for(conv.id).read_text())
    assert doc["kind"] == "completion" and doc["constraint"]["regex"] == "[a-z]+"
    assert doc["reasoning_controls"]["reasoning_effort"] == "low"
    again = SessionStore(tmp_path).load(conv.id)
    assert (again.kind, again.constraint, again.reasoning_controls) == (conv.kind, conv.constraint,
                                                                       conv.reasoning_controls)


def test_a_file_without_the_generation_fields_reads_as_a_chat_with_none_set(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    conv = Conversation()
    conv.add(Message(role="user", content="q"))
    store.save(conv)
    path = store.path_for(conv.id)
    doc = json.loads(path.read_text())
    for name in ("kind", "constraint", "reasoning_controls"):
        doc.pop(name)
    for message in doc["messages"]:
        message.pop("check"), message.pop("reasoning_controls")
    path.write_text(json.dumps(doc))
    again = SessionStore(tmp_path).load(conv.id)
    assert (again.kind, again.constraint, again.reasoning_controls.is_set) == ("chat", None, False)


def test_a_constraint_set_in_another_window_survives_this_windows_next_save(tmp_path: Path) -> None:
    conv = Conversation(title="Shared")
    conv.add(Message(role="user", content="q1"))
    SessionStore(tmp_path).save(conv)
    here_store, here = SessionStore(tmp_path), SessionStore(tmp_path).load(conv.id)
    there_store = SessionStore(tmp_path)
    there = there_store.load(conv.id)
    there.constraint = regex_constraint("[0-9]+")
    there.kind = "completion"
    there_store.save(there)
    here.add(Message(role="assistant", content="a1"))
    here_store.save(here)
    saved = SessionStore(tmp_path).load(conv.id)
    assert saved.constraint is not None and saved.constraint.regex == "[0-9]+" and saved.kind == "completion"
    assert [m.content for m in saved.messages] == ["q1", "a1"]
