"""Core pieces behind the conversation controls: which actions a message offers, edit,
delete and continue bookkeeping, code blocks, the editor, the clipboard, the keymap
check and writing the theme back to the config file."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from vllm_chat.core.clipboard import clipboard_program, copy_with_program
from vllm_chat.core.config import load_settings, tomllib
from vllm_chat.core.config_file import ConfigWriteError, save_setting
from vllm_chat.core.conversation import Conversation, Message, ToolCall
from vllm_chat.core.editor import EditorError, edit_text, editor_command
from vllm_chat.core.keymap import BindingInfo, check_keymap
from vllm_chat.core.markdown_code import code_blocks
from vllm_chat.core.session import ChatSession


def session_with(*messages: Message) -> ChatSession:
    conv = Conversation(model="m")
    for m in messages:
        conv.add(m)
    return ChatSession(load_settings(), conversation=conv)


def test_actions_depend_on_the_message() -> None:
    user = Message(role="user", content="q")
    reply = Message(role="assistant", content="```py\nx\n```", reasoning="hmm")
    s = session_with(user, reply)
    assert s.actions_for(user.id) == ["copy", "edit", "delete"]
    assert s.actions_for(reply.id) == ["copy", "copy-code", "regenerate", "candidates", "compare",
                                      "toggle-reasoning", "delete"]
    reply.status = "stopped"
    assert "continue" in s.actions_for(reply.id)


def test_editing_a_prompt_keeps_the_old_prompt_and_its_reply_as_version_1() -> None:
    a, b, c, d = (Message(role=r, content=t) for r, t in
                  [("user", "one"), ("assistant", "1"), ("user", "two"), ("assistant", "2")])
    s = session_with(a, b, c, d)
    new = s.edit_user_message(c.id, "three")
    assert [m.content for m in s.conversation.messages] == ["one", "1", "three"]
    assert s.conversation.messages[-1] is new
    assert s.alternatives(new.id) == (2, 2)
    assert [m.content for m in s.conversation.aside] == ["two", "2"]
    assert c.parent_id == b.id and d.parent_id == c.id
    with pytest.raises(ValueError):
        s.edit_user_message(b.id, "replies can't be edited")


def test_deleting_a_reply_takes_its_tool_results_along() -> None:
    call = ToolCall(id="c1", name="t", arguments="{}")
    user = Message(role="user", content="q")
    asks = Message(role="assistant", tool_calls=[call])
    result = Message(role="tool", tool_call_id="c1", content="r")
    final = Message(role="assistant", content="done")
    s = session_with(user, asks, result, final)
    removed = s.delete_message(asks.id)
    assert removed == [asks, result]
    assert [m.id for m in s.conversation.messages] == [user.id, final.id]
    assert s.conversation.removed == [asks, result], "kept in the session file"
    assert final.parent_id == user.id


def test_only_a_stopped_or_cut_last_reply_can_be_continued() -> None:
    reply = Message(role="assistant", content="partial", status="complete", finish_reason="stop")
    s = session_with(Message(role="user", content="q"), reply)
    assert not s.can_continue()
    reply.finish_reason = "length"
    assert s.can_continue()
    assert not s.cut_while_thinking()


def test_a_reply_cut_while_still_thinking_is_not_continued_but_said_so() -> None:
    reply = Message(role="assistant", content="", reasoning="Let me think about", status="complete",
                    finish_reason="length")
    s = session_with(Message(role="user", content="q"), reply)
    assert not s.can_continue(), "vLLM isn't sent the reasoning: it would start thinking again"
    assert s.cut_while_thinking()


def test_code_blocks_are_found_with_their_language() -> None:
    blocks = code_blocks("text\n\n```python\nprint(1)\n```\n\n    indented\n\n```\nplain\n```\n")
    assert [(b.language, b.code) for b in blocks] == [("python", "print(1)\n"), ("", "indented\n"),
                                                     ("", "plain\n")]
    assert blocks[0].label == "python · 1 line · print(1)"


def test_the_editor_comes_from_config_then_editor_then_visual(monkeypatch) -> None:
    monkeypatch.setenv("EDITOR", "vim")
    monkeypatch.setenv("VISUAL", "code --wait")
    assert editor_command("micro") == ["micro"]
    assert editor_command(None) == ["vim"], "$EDITOR is asked before $VISUAL"
    monkeypatch.delenv("EDITOR")
    assert editor_command(None) == ["code", "--wait"]
    monkeypatch.setenv("EDITOR", "  ")
    assert editor_command(None) == ["code", "--wait"], "a blank $EDITOR counts as unset"


def test_without_config_or_environment_a_default_editor_is_found(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("EDITOR", raising=False)
    monkeypatch.delenv("VISUAL", raising=False)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    vi = bin_dir / "vi"
    vi.write_text("#!/bin/sh\n")
    vi.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    assert editor_command(None) == ["vi"]
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(EditorError, match=r"No editor found: set \$EDITOR"):
        editor_command(None)


def test_an_editor_command_with_broken_quoting_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.delenv("VISUAL", raising=False)
    monkeypatch.setenv("EDITOR", 'code "--wait')
    with pytest.raises(EditorError, match=r"from \$EDITOR can't be read.*Fix its quoting"):
        editor_command(None)


def test_editing_text_round_trips_through_a_private_temp_file(tmp_path: Path, monkeypatch) -> None:
    # An editor set in the developer's environment must not be started instead.
    monkeypatch.setenv("EDITOR", "/no/such/editor-from-env")
    monkeypatch.setenv("VISUAL", "/no/such/visual-from-env")
    seen = {}

    def fake_editor(argv: list[str]) -> int:
        seen["argv"] = argv
        path = Path(argv[-1])
        seen["mode"] = path.stat().st_mode & 0o777
        path.write_text(path.read_text() + " and more")
        return 0

    assert edit_text("hello", ["ed"], run=fake_editor) == "hello and more"
    assert seen["mode"] == 0o600 and seen["argv"][0] == "ed"
    assert not Path(seen["argv"][-1]).exists(), "the temp file is removed"


def test_a_stand_in_editor_command_round_trips_the_prompt(tmp_path: Path, monkeypatch) -> None:
    script = tmp_path / "stand-in-editor.py"
    script.write_text("import sys\np = sys.argv[1]\ntext = open(p).read()\n"
                      "open(p, 'w').write(text.upper() + ' EDITED\\n')\n")
    monkeypatch.setenv("EDITOR", f"{sys.executable} {script}")
    monkeypatch.setenv("VISUAL", "/no/such/visual-from-env")
    assert edit_text("draft", editor_command(None)) == "DRAFT EDITED\n"


def test_an_editor_that_fails_leaves_a_clear_message(monkeypatch) -> None:
    monkeypatch.setenv("EDITOR", "/no/such/editor-from-env")
    monkeypatch.setenv("VISUAL", "/no/such/visual-from-env")
    with pytest.raises(EditorError, match="exited with status 3"):
        edit_text("x", ["ed"], run=lambda argv: 3)
    with pytest.raises(EditorError, match="Could not start '/no/such/editor'"):
        edit_text("x", ["/no/such/editor"])


def test_the_clipboard_program_gets_the_text(tmp_path: Path) -> None:
    out = tmp_path / "clip"
    command = [sys.executable, "-c", f"import sys; open({str(out)!r}, 'w').write(sys.stdin.read())"]
    assert clipboard_program(command) == command
    assert copy_with_program("héllo", command) == sys.executable
    assert out.read_text() == "héllo"
    assert copy_with_program("x", ["/no/such/program"]) is None


CONTEXTS = [
    [BindingInfo("send", ("enter",)), BindingInfo("newline", ("ctrl+j",)), BindingInfo("quit", ("ctrl+q",))],
    [BindingInfo("copy-message", ("c",)), BindingInfo("quit", ("ctrl+q",))],
]


def test_a_good_keymap_has_no_problems() -> None:
    assert check_keymap({"send": "ctrl+s", "copy-message": "y"}, CONTEXTS) == []


def test_unknown_ids_are_named_with_a_suggestion() -> None:
    assert check_keymap({"sned": "x"}, CONTEXTS) == ["keymap: 'sned' is not a binding id (did you mean 'send'?)"]


def test_a_key_used_twice_in_one_context_is_a_conflict() -> None:
    problems = check_keymap({"send": "ctrl+q"}, CONTEXTS)
    assert problems == ["keymap: ctrl+q would trigger both 'quit' and 'send'; give one of them another key"]
    assert check_keymap({"copy-message": "enter"}, CONTEXTS) == [], "different contexts may share a key"


def test_saving_the_theme_keeps_comments_and_other_keys(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text("# mine\nbase_url = \"http://x/v1\"  # server\n\n[sampling]\ntemperature = 0.5\n")
    config.chmod(0o640)
    save_setting(config, "theme", "nord")
    text = config.read_text()
    assert "# mine" in text and "# server" in text
    assert tomllib.loads(text) == {"base_url": "http://x/v1", "theme": "nord", "sampling": {"temperature": 0.5}}
    assert config.stat().st_mode & 0o777 == 0o640
    save_setting(config, "theme", "vllm-day")
    assert tomllib.loads(config.read_text())["theme"] == "vllm-day"


def test_a_missing_config_is_created_private_and_a_broken_one_is_left_alone(tmp_path: Path) -> None:
    new = tmp_path / "sub" / "config.toml"
    save_setting(new, "theme", "nord")
    assert new.read_text().strip() == 'theme = "nord"' and new.stat().st_mode & 0o777 == 0o600
    broken = tmp_path / "broken.toml"
    broken.write_text("theme = \n")
    with pytest.raises(ConfigWriteError, match="left unchanged"):
        save_setting(broken, "theme", "nord")
    assert broken.read_text() == "theme = \n"
