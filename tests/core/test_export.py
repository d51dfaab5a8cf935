"""Exporting a conversation: Markdown a person can read, JSON identical to the session file."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from vllm_chat.core import tree
from vllm_chat.core.conversation import (
    Attachment,
    Conversation,
    Message,
    ToolCall,
    Usage,
)
from vllm_chat.core.export import ExportError, export, to_json, to_markdown
from vllm_chat.core.store import INTERRUPTED, SessionStore, StoreError, parse_session


def conversation() -> Conversation:
    """A conversation with tools, reasoning, attachments and every way a reply can end."""
    ok = ToolCall(id="chatcmpl-tool-aaaaaaaaaaaaaaaa", name="calculator", arguments='{"expression":"6*7"}')
    bad = ToolCall(id="chatcmpl-tool-bbbbbbbbbbbbbbbb", name="read_file", arguments="{'path': oops")
    conv = Conversation(
        title="Sums and files",
        model="Qwen/Qwen3-8B",
        base_url="http://localhost:8000/v1",
        system_prompt="Answer briefly.",
        created_at=time.mktime((2025, 3, 1, 10, 30, 0, 0, 0, -1)),
        messages=[
            Message(role="user", content="What is 6*7? And read my notes.", attachments=[
                Attachment(kind="image", name="notes.png", mime="image/png", size=2048, width=800,
                           height=600, ref="c" * 64 + ".png"),
                Attachment(kind="audio", name="memo.mp3", url="https://example.com/memo.mp3"),
            ]),
            Message(role="assistant", content="", reasoning="Two tools are needed.",
                    tool_calls=[ok, bad], usage=Usage(prompt_tokens=10, completion_tokens=5)),
            Message(role="tool", content="42", tool_call_id=ok.id, name="calculator", tool_status="ok"),
            Message(role="tool", content="no such file", tool_call_id=bad.id, name="read_file",
                    tool_status="error"),
            Message(role="assistant", content="It is **42**.", finish_reason="stop"),
            Message(role="user", content="Write a long essay with ```code``` in it"),
            Message(role="assistant", content="Essay begins", status="stopped"),
            Message(role="user", content="Again"),
            Message(role="assistant", content="Half", status="stopped", error=INTERRUPTED),
            Message(role="user", content="Once more"),
            Message(role="assistant", content="", status="failed", error="The server closed the stream."),
            Message(role="user", content="And finally"),
            Message(role="assistant", content="Cut sh", finish_reason="length"),
        ],
    )
    tree.add_alternatives(conv, conv.messages[-1].id, [[Message(role="assistant", content="An older take")]])
    return conv


def test_markdown_starts_with_the_title_and_metadata() -> None:
    md = to_markdown(conversation())
    lines = md.splitlines()
    assert lines[0] == "# Sums and files"
    assert "Model: `Qwen/Qwen3-8B`" in lines[2]
    assert "2025-03-01 10:30" in lines[2]
    assert "http://localhost:8000/v1" in lines[2]
    assert "1 other version kept in the JSON export" in lines[2]
    assert "## System\n\nAnswer briefly." in md


def test_markdown_has_a_heading_per_turn_in_order() -> None:
    md = to_markdown(conversation())
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings == [
        "# Sums and files", "## System", "## User", "## Assistant",
        "### Tool result: `calculator`", "### Tool result: `read_file` (error)", "## Assistant",
        "## User", "## Assistant", "## User", "## Assistant", "## User", "## Assistant",
        "## User", "## Assistant",
    ]


def test_reasoning_is_collapsible() -> None:
    md = to_markdown(conversation())
    assert "<details><summary>Reasoning</summary>\n\nTwo tools are needed.\n\n</details>" in md


def test_tool_calls_show_name_and_pretty_arguments_or_the_raw_text() -> None:
    md = to_markdown(conversation())
    assert (
        "**Tool call** `calculator` (`chatcmpl-tool-aaaaaaaaaaaaaaaa`)\n\n"
        '```json\n{\n  "expression": "6*7"\n}\n```'
    ) in md
    assert "**Tool call** `read_file` (`chatcmpl-tool-bbbbbbbbbbbbbbbb`)\n\n```\n{'path': oops\n```" in md


def test_tool_results_are_fenced_and_marked_when_they_failed() -> None:
    md = to_markdown(conversation())
    assert "### Tool result: `calculator`\n\n```\n42\n```" in md
    assert "### Tool result: `read_file` (error)\n\n```\nno such file\n```" in md


def test_a_fence_is_longer_than_any_backticks_inside() -> None:
    conv = Conversation(messages=[
        Message(role="assistant", content="", tool_calls=[ToolCall(id="c", name="t", arguments="x")]),
        Message(role="tool", content="before ```` after", tool_call_id="c", name="t", tool_status="ok"),
    ])
    assert "`````\nbefore ```` after\n`````" in to_markdown(conv)


def test_attachments_are_listed_by_kind_and_name() -> None:
    md = to_markdown(conversation())
    assert "- image `notes.png` (image/png, 800×600, 2 KB)" in md
    assert "- audio `memo.mp3` <https://example.com/memo.mp3>" in md


def test_stopped_failed_interrupted_and_cut_replies_are_marked() -> None:
    md = to_markdown(conversation())
    assert "Essay begins\n\n*Stopped by the user.*" in md
    assert "Half\n\n*Interrupted: the app exited while this reply was streaming.*" in md
    assert "*Failed: The server closed the stream.*" in md
    assert "Cut sh\n\n*Cut off: the reply reached the token limit.*" in md


def test_an_untitled_conversation_gets_its_title_from_the_first_prompt() -> None:
    conv = Conversation(messages=[Message(role="user", content="Why is the sky blue?")])
    assert to_markdown(conv).startswith("# Why is the sky blue?\n")
    assert to_markdown(Conversation()).startswith("# New chat\n")


def test_json_export_is_the_session_file_pretty_printed(tmp_path: Path) -> None:
    conv = conversation()
    store = SessionStore(tmp_path / "sessions")
    store.save(conv)
    saved = json.loads(store.path_for(conv.id).read_text())
    text = to_json(conv)
    assert json.loads(text) == saved
    assert text.startswith('{\n  "schema_version": 3,\n  "generation": 1,')
    assert parse_session(text) == conv


def test_markdown_carries_the_branch_shown_and_json_the_whole_tree() -> None:
    conv = conversation()
    shown, older = conv.messages[-1], conv.aside[-1]
    assert "Cut sh" in to_markdown(conv) and "An older take" not in to_markdown(conv)
    tree.choose(conv, shown.id, 2)
    md = to_markdown(conv)
    assert "An older take" in md and "Cut sh" not in md
    assert "1 other version kept in the JSON export" in md
    doc = json.loads(to_json(conv))
    assert doc["messages"][-1]["content"] == "An older take"
    assert [m["content"] for m in doc["aside"]] == ["Cut sh"]
    assert doc["forks"] == [{"after": conv.messages[-2].id, "options": [shown.id, older.id], "chosen": older.id}]
    assert parse_session(to_json(conv)) == conv


@pytest.mark.parametrize(("name", "kind"), [("chat.md", "md"), ("chat.MARKDOWN", "md"), ("chat.json", "json")])
def test_export_picks_the_format_from_the_suffix(tmp_path: Path, name: str, kind: str) -> None:
    conv = conversation()
    written = export(conv, tmp_path / name)
    assert written == tmp_path / name
    text = written.read_text(encoding="utf-8")
    assert text == (to_markdown(conv) if kind == "md" else to_json(conv))
    assert stat.S_IMODE(written.stat().st_mode) == 0o600


def test_an_explicit_format_wins_over_the_suffix(tmp_path: Path) -> None:
    written = export(conversation(), tmp_path / "notes.txt", fmt="md")
    assert written.read_text(encoding="utf-8").startswith("# Sums and files")


def test_export_replaces_an_existing_file_completely(tmp_path: Path) -> None:
    target = tmp_path / "chat.md"
    target.write_text("x" * 1_000_000)
    export(Conversation(title="short"), target)
    assert target.read_text() == to_markdown(Conversation(title="short"))
    assert [p.name for p in tmp_path.iterdir()] == ["chat.md"]


@pytest.mark.parametrize(
    ("make_path", "message"),
    [
        (lambda d: d / "chat.txt", "can't tell the export format from 'chat.txt'"),
        (lambda d: d / "missing" / "chat.md", "the folder .* does not exist"),
        (lambda d: d, "is a folder"),
    ],
)
def test_export_to_a_bad_path_says_what_is_wrong(tmp_path: Path, make_path, message: str) -> None:
    with pytest.raises(ExportError, match=message):
        export(conversation(), make_path(tmp_path))


def test_export_into_a_file_instead_of_a_folder_says_it_cant_write(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ExportError, match="can't export to .*does not exist|can't write"):
        export(conversation(), tmp_path / "file" / "chat.md")


def test_an_unknown_explicit_format_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="unknown export format 'pdf'"):
        export(conversation(), tmp_path / "x.pdf", fmt="pdf")  # type: ignore[arg-type]


def test_export_errors_are_store_errors_so_session_commands_report_them(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        export(conversation(), tmp_path / "chat.txt")


def test_headings_in_replies_nest_under_the_turn_headings() -> None:
    reply = "# A long reply\n\nIntro.\n\n## 1. Batching\n\nText.\n\n  ### Indented\n\n###### Deepest\n\n#"
    conv = Conversation(title="Nesting", messages=[
        Message(role="user", content="# My question"),
        Message(role="assistant", content=reply),
    ])
    headings = [line for line in to_markdown(conv).splitlines() if line.lstrip().startswith("#")]
    assert headings == [
        "# Nesting", "## User", "### My question", "## Assistant",
        "### A long reply", "#### 1. Batching", "  ##### Indented", "###### Deepest", "###",
    ]


def test_lines_that_only_look_like_headings_are_left_alone() -> None:
    reply = (
        "#hashtag and #5 are not headings\n\n"
        "```python\n# a comment\n```\n\n"
        "~~~~\n# still code\n```\n## still code\n~~~~\n\n"
        "    # indented code\n\n"
        "# Real"
    )
    md = to_markdown(Conversation(messages=[Message(role="assistant", content=reply)]))
    body = md.split("## Assistant\n\n", 1)[1]
    assert body == reply.replace("# Real", "### Real") + "\n"


def test_headings_in_the_system_prompt_and_reasoning_nest_too() -> None:
    conv = Conversation(system_prompt="# Rules\n\nBe brief.", messages=[
        Message(role="assistant", content="ok", reasoning="## Plan\n\nThink."),
    ])
    md = to_markdown(conv)
    assert "## System\n\n### Rules\n\nBe brief." in md
    assert "<details><summary>Reasoning</summary>\n\n#### Plan\n\nThink.\n\n</details>" in md


def test_the_model_line_names_every_model_that_answered_in_order() -> None:
    conv = Conversation(model="c-model", messages=[
        Message(role="user", content="hi"),
        Message(role="assistant", content="a", model="a-model"),
        Message(role="user", content="again"),
        Message(role="assistant", content="b", model="b-model"),
        Message(role="assistant", content="a again", model="a-model"),
    ])
    assert "*Models: `a-model`, `b-model` · " in to_markdown(conv)


def test_one_answering_model_is_named_even_when_the_next_turn_uses_another() -> None:
    conv = Conversation(model="next-model", messages=[Message(role="assistant", content="a", model="a-model")])
    md = to_markdown(conv)
    assert "*Model: `a-model` · " in md and "next-model" not in md
