"""The conversation tree: versions of a message, the branch shown below the chosen one, deleting,
forking, and the migration of version 2 files (whose `branches` become the tree)."""

from __future__ import annotations

import json

import pytest

from vllm_chat.core import tree
from vllm_chat.core.conversation import Conversation, Fork, Message, ToolCall
from vllm_chat.core.migrations import migrate
from vllm_chat.core.store import parse_session, session_json


def say(role: str, content: str, at: float | None = None) -> Message:
    message = Message(role=role, content=content)  # type: ignore[arg-type]
    if at is not None:
        message.created_at = at
    return message


def chat(*texts: str) -> Conversation:
    """user, assistant, user, ... with these texts."""
    conv = Conversation()
    for i, text in enumerate(texts):
        conv.add(say("user" if i % 2 == 0 else "assistant", text))
    return conv


def shown(conv: Conversation) -> list[str]:
    return [m.content for m in conv.messages]


def regenerate(conv: Conversation, text: str) -> Message:
    """What the session does for a retry: set the reply aside, then the engine appends a new one."""
    last_user = max(i for i, m in enumerate(conv.messages) if m.role == "user")
    tree.set_aside(conv, last_user + 1)
    return conv.add(say("assistant", text))


def test_a_regenerated_reply_is_version_2_of_2_and_the_first_is_kept() -> None:
    conv = chat("q", "first answer")
    first = conv.messages[1]
    second = regenerate(conv, "second answer")
    assert shown(conv) == ["q", "second answer"]
    assert tree.version(conv, second.id) == (2, 2)
    assert [m.content for m in tree.alternatives(conv, second.id)] == ["first answer", "second answer"]
    assert conv.aside == [first]
    assert tree.versions(conv) == {second.id: (2, 2)}


def test_choosing_a_version_brings_back_the_branch_below_it_as_it_was() -> None:
    conv = chat("q1", "a1", "q2", "a2")
    q2 = conv.messages[2]
    tree.set_aside(conv, 2)  # edit q2 and send again
    conv.add(say("user", "q2 edited"))
    conv.add(say("assistant", "a2 for the edit"))
    assert shown(conv) == ["q1", "a1", "q2 edited", "a2 for the edit"]
    assert tree.version(conv, conv.messages[2].id) == (2, 2)
    back = tree.choose(conv, conv.messages[2].id, 1)
    assert back is q2
    assert shown(conv) == ["q1", "a1", "q2", "a2"], "the old prompt comes back with its reply"
    tree.choose(conv, q2.id, 2)
    assert shown(conv) == ["q1", "a1", "q2 edited", "a2 for the edit"]


def test_each_fork_below_remembers_which_version_was_shown() -> None:
    conv = chat("q", "a")
    regenerate(conv, "a-v2")
    conv.add(say("user", "follow-up"))
    regenerate(conv, "follow-up answer 1")
    regenerate(conv, "follow-up answer 2")
    tree.choose(conv, conv.messages[-1].id, 1)  # the first answer to the follow-up
    assert shown(conv) == ["q", "a-v2", "follow-up", "follow-up answer 1"]
    tree.choose(conv, conv.messages[1].id, 1)  # the first reply had no follow-up
    assert shown(conv) == ["q", "a"]
    tree.choose(conv, conv.messages[1].id, 2)
    assert shown(conv) == ["q", "a-v2", "follow-up", "follow-up answer 1"], "as it was left"


def test_choosing_a_version_that_does_not_exist_says_so() -> None:
    conv = chat("q", "a")
    with pytest.raises(IndexError, match="no version 2"):
        tree.choose(conv, conv.messages[1].id, 2)
    with pytest.raises(KeyError):
        tree.choose(conv, "not-shown", 1)


def test_added_alternatives_are_the_same_kind_of_branch_as_a_regeneration() -> None:
    conv = chat("q", "answer from model A")
    a = conv.messages[1]
    call = ToolCall(id="call-1", name="calculator", arguments="{}")
    b_chain = [Message(role="assistant", tool_calls=[call], model="B"),
               Message(role="tool", tool_call_id="call-1", content="4"),
               Message(role="assistant", content="answer from model B", model="B")]
    c = Message(role="assistant", content="answer from model C", model="C")
    tree.add_alternatives(conv, a.id, [b_chain, [c]])
    assert shown(conv) == ["q", "answer from model A"]
    assert [m.id for m in tree.alternatives(conv, a.id)] == [a.id, b_chain[0].id, c.id]
    tree.choose(conv, a.id, 2)
    assert [m.id for m in conv.messages[1:]] == [m.id for m in b_chain], "a chain comes back whole"
    tree.add_alternatives(conv, conv.messages[1].id, [[say("assistant", "D")]], choose=0)
    assert shown(conv) == ["q", "D"]
    assert tree.version(conv, conv.messages[1].id) == (4, 4)
    with pytest.raises(ValueError):
        tree.add_alternatives(conv, conv.messages[1].id, [[]])


def test_a_merge_of_two_windows_orders_alternatives_by_time() -> None:
    conv = chat("q")
    late, early = say("assistant", "late", at=200.0), say("assistant", "early", at=100.0)
    conv.add(late)
    early.parent_id = conv.messages[0].id
    conv.aside.append(early)  # as a merge leaves them: no fork yet
    tree.link(conv)
    assert [m.content for m in tree.alternatives(conv, late.id)] == ["early", "late"]
    assert tree.version(conv, late.id) == (2, 2)


def test_deleting_a_message_keeps_it_in_removed_and_joins_what_follows_to_its_parent() -> None:
    conv = chat("q1", "a1", "q2", "a2")
    q1, a1, q2, _ = conv.messages
    gone = tree.remove(conv, 1, 2)
    assert gone == [a1] and conv.removed == [a1]
    assert shown(conv) == ["q1", "q2", "a2"]
    assert q2.parent_id == q1.id
    assert a1.parent_id == q1.id, "a removed message remembers where it was"


def test_deleting_a_version_shows_the_next_one_and_keeps_the_rest() -> None:
    conv = chat("q", "v1")
    v2 = regenerate(conv, "v2")
    v3 = regenerate(conv, "v3")
    tree.choose(conv, v3.id, 2)
    tree.remove(conv, 1, 2)  # delete v2, the one shown
    assert shown(conv) == ["q", "v3"]
    assert tree.version(conv, v3.id) == (2, 2)
    assert v2 in conv.removed and v2 not in conv.aside
    tree.remove(conv, 1, 2)
    assert shown(conv) == ["q", "v1"], "the previous one when there is no next"
    tree.remove(conv, 1, 2)
    assert shown(conv) == ["q"] and conv.forks == []


def test_deleting_a_message_that_has_versions_below_moves_them_up() -> None:
    conv = chat("q1", "a1", "q2", "first")
    regenerate(conv, "second")
    second = conv.messages[-1]
    tree.remove(conv, 2, 3)  # delete q2: both answers now follow a1
    assert shown(conv) == ["q1", "a1", "second"]
    assert [m.content for m in tree.alternatives(conv, second.id)] == ["first", "second"]


def test_forking_copies_the_shown_messages_and_records_the_origin() -> None:
    conv = chat("q1", "a1", "q2", "a2")
    conv.title = "Original"
    regenerate(conv, "a2 again")
    fork = tree.fork_at(conv, 2)
    assert fork.id != conv.id
    assert shown(fork) == ["q1", "a1"]
    assert fork.messages[0] is not conv.messages[0] and fork.messages[0].id == conv.messages[0].id
    assert (fork.aside, fork.forks) == ([], [])
    assert fork.origin is not None
    assert (fork.origin.session_id, fork.origin.message_id, fork.origin.messages, fork.origin.title) == (
        conv.id, conv.messages[1].id, 2, "Original")
    assert fork.title == "Original (fork)"


def test_a_fork_never_cuts_a_reply_off_from_its_tool_results() -> None:
    conv = chat("q")
    call = ToolCall(id="c1", name="t", arguments="{}")
    asks = conv.add(Message(role="assistant", tool_calls=[call]))
    conv.add(Message(role="tool", tool_call_id="c1", content="r"))
    conv.add(say("assistant", "done"))
    with pytest.raises(ValueError, match="keep 1 or 3"):
        tree.fork_at(conv, 2)
    assert tree.cut_after(conv, asks.id) == 3, "from the reply that called a tool: its results come along"
    with pytest.raises(ValueError, match="from 1 to 4"):
        tree.fork_at(conv, 5)


def test_show_latest_switches_to_the_branch_with_the_newest_message() -> None:
    conv = chat("q", "mine")
    theirs = say("assistant", "theirs")
    theirs.parent_id = conv.messages[0].id
    follow = say("user", "their follow-up")
    follow.parent_id = theirs.id
    theirs.created_at, follow.created_at = conv.messages[1].created_at + 1, conv.messages[1].created_at + 2
    conv.aside += [theirs, follow]
    tree.show_latest(conv)
    assert shown(conv) == ["q", "theirs", "their follow-up"]


def test_link_repairs_a_hand_edited_tree() -> None:
    conv = chat("q", "a")
    dup = conv.messages[1].model_copy()
    conv.aside.append(dup)
    conv.forks.append(Fork(after="nowhere", options=["x"], chosen="x"))
    tree.link(conv)
    assert conv.aside == [] and conv.forks == []


# --- version 2 files ----------------------------------------------------------------------


def v2_document(messages: list[dict], branches: list[dict]) -> dict:
    return {"schema_version": 2, "id": "s", "title": "t", "messages": messages, "branches": branches}


def m(mid: str, role: str, content: str, at: float) -> dict:
    return {"id": mid, "role": role, "content": content, "created_at": at}


def test_a_version_2_regeneration_becomes_two_versions_of_the_reply() -> None:
    doc = v2_document(
        [m("u", "user", "q", 1), m("a2", "assistant", "second", 3)],
        [{"id": "b", "parent_message_id": "u", "messages": [m("a1", "assistant", "first", 2)], "created_at": 3}],
    )
    conv = parse_session(json.dumps(doc))
    assert shown(conv) == ["q", "second"]
    assert [x.content for x in tree.alternatives(conv, "a2")] == ["first", "second"]
    assert conv.removed == []


def test_a_version_2_edit_keeps_the_old_prompt_with_its_replies() -> None:
    doc = v2_document(
        [m("u1", "user", "q1", 1), m("a1", "assistant", "r1", 2), m("u2b", "user", "q2 edited", 5),
         m("a2b", "assistant", "r2b", 6)],
        [{"id": "b", "parent_message_id": "a1",
          "messages": [m("u2", "user", "q2", 3), m("a2", "assistant", "r2", 4)], "created_at": 5}],
    )
    conv = parse_session(json.dumps(doc))
    tree.choose(conv, "u2b", 1)
    assert shown(conv) == ["q1", "r1", "q2", "r2"]


def test_a_version_2_deletion_goes_to_removed_not_to_the_versions() -> None:
    doc = v2_document(
        [m("u1", "user", "q1", 1), m("u2", "user", "q2", 3), m("a2", "assistant", "r2", 4)],
        [{"id": "b", "parent_message_id": "u1", "messages": [m("a1", "assistant", "deleted", 2)],
          "created_at": 5}],
    )
    conv = parse_session(json.dumps(doc))
    assert shown(conv) == ["q1", "q2", "r2"]
    assert [x.content for x in conv.removed] == ["deleted"]
    assert conv.forks == [] and tree.versions(conv) == {}


def test_a_version_2_file_round_trips_after_migration() -> None:
    doc = v2_document([{"role": "user", "content": "no id"}], [])
    migrated = migrate(doc)
    assert isinstance(migrated["messages"][0]["id"], str), "messages without an id get one"
    conv = parse_session(json.dumps(doc))
    assert parse_session(session_json(conv)) == conv
