"""The prompt as a workbench, in the core: `@path` mentions (confined to the start folder,
size-capped, binaries refused, media attached, secrets only with consent), the file list
behind the @ picker (git's ignore rules, hidden files off), saved prompts with variables
and roles, the queue, and images from the clipboard."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

import pytest

from vllm_chat.core.clipboard import ClipboardError, paste_image
from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Message
from vllm_chat.core.prompting.files import list_files, match_files
from vllm_chat.core.prompting.mentions import MentionError, mention_at, mentioned_paths
from vllm_chat.core.prompting.templates import TemplateError, load_templates, parse_file
from vllm_chat.core.session import ChatSession, SecretsMentioned


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('hello')\n")
    (root / "README.md").write_text("# Project\n")
    (root / "build").mkdir()
    (root / "build" / "out.txt").write_text("generated")
    (root / "debug.log").write_text("noise")
    (root / ".gitignore").write_text("build/\n*.log\n")
    (root / ".hidden").write_text("dot file")
    (root / "photo.png").write_bytes(png())
    (root / "blob.bin").write_bytes(b"\x00\x01\x02binary")
    (root / ".env").write_text("API_KEY=sk-0123456789\n")
    return root


def session_in(root: Path, **settings: object) -> ChatSession:
    return ChatSession(load_settings(dict(settings)), root=root)


def test_mentions_are_at_word_starts_quoted_paths_work_and_emails_are_no_mentions() -> None:
    text = 'see @src/app.py, and @"docs/my notes.md"; mail me@example.com or write @@literal'
    assert mentioned_paths(text) == ["src/app.py", "docs/my notes.md"]
    assert mention_at("look at @src/a", 14) == (8, "src/a")
    assert mention_at("me@exa", 6) is None and mention_at("@a b", 4) is None


def test_the_picker_lists_what_git_tracks_and_matches_fuzzily(project: Path) -> None:
    files = list_files(project)
    assert set(files.paths) == {"src/app.py", "README.md", "photo.png", "blob.bin"}, \
        "ignored (build/, *.log) and hidden files (.env, .hidden) are left out"
    assert ".env" in list_files(project, hidden=True).paths
    assert match_files(files, "sapp")[0] == "src/app.py"
    assert match_files(files, "zzz") == []
    assert list_files(project, limit=2).truncated


def test_a_mentioned_text_file_goes_with_the_message_as_a_fenced_block(project: Path) -> None:
    session = session_in(project)
    draft = session.prepare("review @src/app.py please")
    message = session.send(draft)
    assert message.content == "review @src/app.py please", "the view keeps what the user wrote"
    sent = message.text_for_model
    assert sent.startswith("review @src/app.py please\n\nsrc/app.py:\n```\nprint('hello')\n```")


def test_a_file_over_the_limit_is_cut_with_a_note(project: Path) -> None:
    (project / "big.txt").write_text("line\n" * 50_000)
    draft = session_in(project, mentions={"max_file_kb": 1}).prepare("@big.txt")
    [file] = draft.files
    assert file.truncated and len(file.text.encode()) <= 1024 and file.size == 250_000
    assert "[only the first" in file.as_block() and "of 250000 bytes of big.txt]" in file.as_block()


@pytest.mark.parametrize(
    ("mention", "expected"),
    [
        ("@missing.py", "there is no such file"),
        ("@blob.bin", "is a binary file"),
        ("@../outside.txt", "is outside the folder vllm-chat was started in"),
        ("@src", "is a folder"),
    ],
)
def test_a_mention_that_cant_be_sent_says_why_before_anything_is_sent(project: Path, mention: str,
                                                                      expected: str) -> None:
    (project.parent / "outside.txt").write_text("not yours")
    session = session_in(project)
    with pytest.raises(MentionError, match=expected):
        session.prepare(f"look at {mention}")
    assert session.conversation.messages == []


def test_a_link_out_of_the_folder_is_refused_too(project: Path) -> None:
    (project.parent / "secret.txt").write_text("outside")
    os.symlink(project.parent / "secret.txt", project / "link.txt")
    with pytest.raises(MentionError, match="outside the folder"):
        session_in(project).prepare("@link.txt")


def test_a_mentioned_image_becomes_an_attachment(project: Path) -> None:
    draft = session_in(project).prepare("what is in @photo.png")
    [attachment] = draft.attachments
    assert attachment.kind == "image" and attachment.name == "photo.png" and draft.files == []


def test_files_that_look_like_secrets_need_consent(project: Path) -> None:
    session = session_in(project)
    with pytest.raises(SecretsMentioned) as refused:
        session.prepare("deploy with @.env")
    assert refused.value.secrets[0].path == ".env" and ".env" in refused.value.secrets[0].reason
    draft = session.prepare("deploy with @.env", allow_secrets=True)
    assert draft.files[0].text.startswith("API_KEY=")


def test_at_at_writes_a_plain_at(project: Path) -> None:
    assert session_in(project).prepare("ping @@alice").text == "ping @alice"


def test_template_files_have_toml_front_matter_and_variables(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    folder.mkdir()
    (folder / "greet.md").write_text('+++\ndescription = "Greets"\nmodel = "m2"\n[sampling]\ntemperature = 0.1\n'
                                     '+++\nSay hello to {{name}} in {{language:French}}.\n')
    (folder / "broken.md").write_text("+++\nnot toml at all\n+++\ntext")
    (folder / "typo.md").write_text('+++\ntemprature = 1\n+++\ntext')
    book = load_templates([folder], {})
    assert set(book.templates) == {"greet"}
    assert len(book.problems) == 2 and any("not valid TOML" in p for p in book.problems)
    assert any("temprature" in p for p in book.problems)
    greet = book.get("greet")
    assert [(v.name, v.default) for v in greet.variables] == [("name", None), ("language", "French")]
    assert greet.render({"name": "Ana"})[0] == "Say hello to Ana in French."
    with pytest.raises(TemplateError, match="needs a value for: name"):
        greet.render({})
    with pytest.raises(TemplateError, match="no saved prompt named 'nope'"):
        book.get("nope")
    with pytest.raises(TemplateError, match="no closing"):
        parse_file("+++\nx = 1\n")


def test_the_shipped_prompts_are_there_and_a_users_own_wins(tmp_path: Path, monkeypatch) -> None:
    session = session_in(tmp_path)
    assert {"commit-message", "review", "translate"} <= set(session.templates().templates)
    assert session.templates().problems == []
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    mine = tmp_path / "cfg" / "vllm-chat" / "prompts"
    mine.mkdir(parents=True)
    (mine / "review.md").write_text("My own review of {{code}}")
    assert session.templates(reload=True).get("review").fields.text == "My own review of {{code}}"


def test_using_a_template_applies_its_settings_and_a_role_sets_up_the_conversation(tmp_path: Path) -> None:
    session = session_in(tmp_path, prompts={
        "pirate": {"role": True, "system": "Talk like a pirate.", "sampling": {"temperature": 1.2}},
        "ask": {"text": "Tell me about {{topic}}", "model": "other"},
    })
    assert session.use_template("pirate", {}) == ""
    assert session.conversation.system_prompt == "Talk like a pirate."
    assert session.conversation.params.temperature == 1.2
    assert session.use_template("ask", {"topic": "ships"}) == "Tell me about ships"
    assert session.conversation.model == "other"


def test_the_queue_goes_out_after_a_turn_that_ended_well_and_waits_after_a_stop() -> None:
    session = ChatSession(load_settings({}))
    session.enqueue("first")
    session.enqueue("second")
    assert session.status().queued == 2
    session.conversation.add(Message(role="user", content="q"))
    session.conversation.add(Message(role="assistant", content="a", status="stopped"))
    assert session.next_queued() is None, "a stopped turn keeps the queue for the user"
    assert session.next_queued(after_failure=True).text == "first"
    session.conversation.messages[-1].status = "complete"
    assert session.next_queued().text == "second" and session.queued == []


def test_an_image_comes_from_the_clipboard_program(tmp_path: Path, monkeypatch) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    image = tmp_path / "shot.png"
    image.write_bytes(png(3, 3))
    xclip = bin_dir / "xclip"
    xclip.write_text(f'#!/bin/sh\ncase "$*" in *TARGETS*) echo "TARGETS image/png text/plain";; '
                     f'*image/png*) /bin/cat "{image}";; esac\n')
    xclip.chmod(xclip.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", str(bin_dir))
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    data, program = paste_image()
    assert data == image.read_bytes() and program == "xclip"


def test_without_a_clipboard_program_the_user_is_told_what_to_install(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setenv("DISPLAY", ":0")
    with pytest.raises(ClipboardError, match="wl-clipboard|pngpaste"):
        paste_image()
    monkeypatch.delenv("DISPLAY")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    with pytest.raises(ClipboardError, match="no display"):
        paste_image()
