"""`vllm-chat sessions search QUERY [--json] [--text-only]` and `vllm-chat sessions fork ID [--at N]
[--json]`: ranked hits with a snippet, a fork that records its origin, and nothing from a session
file reaching the terminal raw."""

from __future__ import annotations

import json
import subprocess

from tests.support.cli import run_vllm_chat
from vllm_chat.core.conversation import Conversation, Message, ToolCall
from vllm_chat.core.store import SessionStore


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat(*args, timeout=120)


def saved(title: str, *texts: str, reasoning: str | None = None) -> Conversation:
    conv = Conversation(title=title, model="m")
    for i, text in enumerate(texts):
        conv.add(Message(role="user" if i % 2 == 0 else "assistant", content=text,
                         reasoning=reasoning if i % 2 else None))
    SessionStore().save(conv)
    return conv


def test_search_prints_each_matching_session_with_a_snippet_best_first() -> None:
    weak = saved("Misc", "once upon a kernel", "ok")
    strong = saved("Kernel fusion notes", "fuse the attention kernel", "kernel kernel")
    saved("Cooking", "boil an egg", "nine minutes")
    result = run("sessions", "search", "kernel")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(strong.id[:12]) and "Kernel fusion notes" in lines[0]
    assert lines[2].startswith(weak.id[:12])
    assert lines[3].strip() == "prompt: once upon a kernel"
    assert len(lines) == 4


def test_search_json_has_id_title_and_snippet_and_says_where() -> None:
    conv = saved("Tools", "what's the weather", "sunny", reasoning="call the barometer")
    doc = json.loads(run("sessions", "search", "barometer", "--json").stdout)
    assert [(d["id"], d["title"], d["snippet"], d["where"]) for d in doc] == [
        (conv.id, "Tools", "call the barometer", "reasoning")]
    assert json.loads(run("sessions", "search", "barometer", "--json", "--text-only").stdout) == []


def test_search_finds_tool_results_and_says_when_nothing_matches() -> None:
    conv = Conversation(title="t")
    conv.add(Message(role="user", content="run it"))
    conv.add(Message(role="assistant", tool_calls=[ToolCall(id="c", name="shell", arguments="{}")]))
    conv.add(Message(role="tool", tool_call_id="c", content="total 42 zettabytes"))
    SessionStore().save(conv)
    assert "tool result: total 42 zettabytes" in run("sessions", "search", "zettabytes").stdout
    nothing = run("sessions", "search", "xylophone")
    assert nothing.returncode == 0 and nothing.stdout.strip() == "No session matches 'xylophone'."
    empty = run("sessions", "search", "  ?! ")
    assert empty.returncode == 2 and "at least one word" in empty.stderr


def test_search_output_is_inert_on_a_terminal() -> None:
    saved("\x1b]0;pwned\x07Title \x1b[2J", "a \x1b[31m payload \x1b[0m here\x9b2J", "ok")
    result = run("sessions", "search", "payload")
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout and "\x9b" not in result.stdout
    assert "␛" in result.stdout
    raw = run("sessions", "search", "payload", "--json").stdout
    assert raw.isascii() and "\x1b" not in raw
    assert json.loads(raw)[0]["title"].startswith("\x1b]0;pwned")  # the data itself is intact


def test_fork_keeps_the_first_n_messages_in_a_new_session_that_knows_its_origin() -> None:
    conv = saved("Original", "q1", "a1", "q2", "a2")
    result = run("sessions", "fork", conv.id[:10], "--at", "2", "--json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    new_id = doc["session_id"]
    assert new_id != conv.id and doc["forked_from"] == conv.id and doc["messages"] == 2
    fork = SessionStore().load(new_id)
    assert [m.content for m in fork.messages] == ["q1", "a1"]
    assert fork.origin is not None and fork.origin.session_id == conv.id and fork.origin.messages == 2
    assert [m.content for m in SessionStore().load(conv.id).messages] == ["q1", "a1", "q2", "a2"]


def test_fork_without_at_copies_everything_and_says_how_to_continue() -> None:
    conv = saved("Whole \x1b[31mthing", "q1", "a1")
    result = run("sessions", "fork", conv.id)
    assert result.returncode == 0
    [new] = [s for s in SessionStore().list()[0] if s.id != conv.id]
    assert new.message_count == 2
    assert f"into {new.id} (2 messages): Whole ␛[31mthing (fork)" in result.stdout
    assert f"vllm-chat --resume {new.id}" in result.stdout


def test_fork_refuses_a_count_that_does_not_fit() -> None:
    conv = saved("Small", "q1", "a1")
    result = run("sessions", "fork", conv.id, "--at", "5")
    assert result.returncode == 1 and "give a number from 1 to 2" in result.stderr
    assert len(SessionStore().list()[0]) == 1
