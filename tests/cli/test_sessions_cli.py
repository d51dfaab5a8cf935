"""`vllm-chat sessions list | export | delete` and resuming from the command line."""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path

from tests.support.cli import run_vllm_chat
from vllm_chat.core.conversation import Conversation, Message, ToolCall
from vllm_chat.core.store import SessionStore


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat(*args, timeout=60)


def saved(title: str, model: str = "m", when: float | None = None, id: str | None = None) -> Conversation:
    conv = Conversation(title=title, model=model, **({"id": id} if id else {}))
    conv.add(Message(role="user", content=f"question about {title}"))
    conv.add(Message(role="assistant", content="an answer", reasoning="thinking it over",
                     tool_calls=[ToolCall(id="c1", name="calculator", arguments='{"expression": "1+1"}')]))
    conv.add(Message(role="tool", tool_call_id="c1", name="calculator", content="1+1 = 2", tool_status="ok"))
    if when is not None:
        conv.updated_at = when
    SessionStore().save(conv)
    return conv


def test_list_shows_id_date_count_model_and_title_newest_first() -> None:
    old = saved("older chat", when=time.time() - 3600)
    new = saved("newer chat", model="qwen")
    result = run("sessions", "list")
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith(new.id[:12]) and "newer chat" in lines[0] and "qwen" in lines[0]
    assert lines[1].startswith(old.id[:12]) and "3 msgs" in lines[1]


def test_list_json_is_machine_readable_and_names_unreadable_files(isolated_env: Path) -> None:
    saved("a chat")
    (isolated_env / "sessions" / "broken.json").write_text("{not json")
    doc = json.loads(run("sessions", "list", "--json").stdout)
    assert doc[0]["title"] == "a chat" and doc[0]["messages"] == 3
    assert doc[-1]["path"].endswith("broken.json") and doc[-1]["unreadable"]


def test_export_by_prefix_to_markdown_and_json(tmp_path: Path) -> None:
    conv = saved("exported")
    md = run("sessions", "export", conv.id[:8])
    assert md.returncode == 0 and "# exported" in md.stdout and "<details>" in md.stdout
    out = tmp_path / "s.json"
    result = run("sessions", "export", conv.id[:8], "-o", str(out))
    assert result.returncode == 0 and json.loads(out.read_text())["id"] == conv.id


def test_delete_removes_the_file_and_unknown_ids_are_explained() -> None:
    conv = saved("doomed")
    assert run("sessions", "delete", conv.id).returncode == 0
    assert SessionStore().list()[0] == []
    missing = run("sessions", "delete", "zzzz")
    assert missing.returncode == 1 and "zzzz" in missing.stderr


def test_an_ambiguous_prefix_lists_the_candidates() -> None:
    saved("a", id="abc1111111"), saved("b", id="abc2222222")
    result = run("sessions", "export", "abc")
    assert result.returncode == 1 and "abc1111111" in result.stderr and "abc2222222" in result.stderr


def test_continue_without_any_session_says_so() -> None:
    result = run("-c", "-p", "hi")
    assert result.returncode == 2 and "no saved session" in result.stderr


def test_export_format_json_prints_the_whole_session_document() -> None:
    conv = saved("as json")
    result = run("sessions", "export", conv.id[:8], "--format", "json")
    assert result.returncode == 0 and result.stderr == ""
    doc = json.loads(result.stdout)
    assert doc["id"] == conv.id and doc["title"] == "as json"
    assistant = doc["messages"][1]
    assert assistant["reasoning"] == "thinking it over"
    assert assistant["tool_calls"][0]["name"] == "calculator"
    assert doc["messages"][2]["content"] == "1+1 = 2"


def test_export_format_md_prints_markdown_with_reasoning_and_tool_calls() -> None:
    conv = saved("as markdown")
    result = run("sessions", "export", conv.id, "--format", "md")
    assert result.returncode == 0 and result.stderr == ""
    assert result.stdout.startswith("# as markdown\n")
    assert "<details>" in result.stdout and "thinking it over" in result.stdout
    assert '"expression": "1+1"' in result.stdout
    assert "question about as markdown" in result.stdout


def test_export_format_wins_over_the_file_suffix(tmp_path: Path) -> None:
    conv = saved("format first")
    md_in_json_name = tmp_path / "chat.json"
    json_in_md_name = tmp_path / "chat.md"
    assert run("sessions", "export", conv.id[:8], "--format", "md", "-o", str(md_in_json_name)).returncode == 0
    assert run("sessions", "export", conv.id[:8], "--format", "json", "-o", str(json_in_md_name)).returncode == 0
    assert md_in_json_name.read_text().startswith("# format first\n")
    assert json.loads(json_in_md_name.read_text())["id"] == conv.id


def test_export_refuses_an_unknown_format_or_a_nameless_file(tmp_path: Path) -> None:
    conv = saved("refused")
    bad_format = run("sessions", "export", conv.id[:8], "--format", "html")
    assert bad_format.returncode == 2 and "invalid choice: 'html'" in bad_format.stderr
    no_suffix = run("sessions", "export", conv.id[:8], "-o", str(tmp_path / "chat.txt"))
    assert no_suffix.returncode == 1
    assert "can't tell the export format from 'chat.txt': end the name with .md or .json" in no_suffix.stderr
    assert not (tmp_path / "chat.txt").exists()


def test_the_help_of_list_names_the_columns_in_the_order_they_are_printed() -> None:
    saved("a chat", model="qwen")
    [line] = run("sessions", "list").stdout.splitlines()
    printed = ["id", "last update", "message count", "model", "title"]
    assert re.fullmatch(r"[0-9a-f]{12}  \d{4}-\d\d-\d\d \d\d:\d\d\s+3 msgs  qwen\s+a chat", line), line
    for helped in (run("sessions", "list", "--help").stdout, run("sessions", "--help").stdout):
        flat = " ".join(helped.split())
        at = [flat.find(name) for name in printed]
        assert -1 not in at and at == sorted(at), (printed, flat)


def test_list_reads_without_creating_the_data_folder(monkeypatch, tmp_path: Path) -> None:
    data = tmp_path / "never-written"
    monkeypatch.setenv("VLLM_CHAT_DATA_DIR", str(data))
    result = run("sessions", "list")
    assert result.returncode == 0 and result.stdout.strip() == "No saved sessions yet."
    assert not data.exists()
