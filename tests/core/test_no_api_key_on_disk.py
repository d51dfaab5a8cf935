"""The API key never reaches the disk: not in sessions, the index, exports, or anywhere else
under the data folder. `assert_no_secret_in_tree` is the check; a suite-wide fixture can reuse it."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.support.secrets import assert_no_secret_in_tree
from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation, Message, ToolCall, Usage
from vllm_chat.core.events import ContentDelta, ToolResult, TurnFinished, TurnStarted
from vllm_chat.core.export import export
from vllm_chat.core.paths import data_dir
from vllm_chat.core.recorder import SessionRecorder
from vllm_chat.core.store import SessionStore

SECRET = "sk-vllmchat-DISTINCTIVE-7f3a9c2e51d04b8e"


@pytest.fixture
def settings_with_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Settings that hold a distinctive API key (from the config file and the environment)."""
    config = tmp_path / "config.toml"
    config.write_text(f'api_key = "{SECRET}"\nbase_url = "http://gpu-box:8000/v1"\nmodel = "m"\n')
    monkeypatch.setenv("VLLM_CHAT_CONFIG", str(config))
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    monkeypatch.setenv("VLLM_CHAT_DATA_DIR", str(tmp_path / "data"))
    settings = load_settings()
    assert settings.api_key.get_secret_value() == SECRET
    return settings


def test_sessions_index_and_exports_never_hold_the_api_key(settings_with_key, tmp_path: Path) -> None:
    settings = settings_with_key
    store = SessionStore()
    conv = Conversation(
        base_url=settings.base_url,
        model=settings.model or "",
        system_prompt=settings.system_prompt,
        params=settings.sampling,
    )
    recorder = SessionRecorder(store, conv, interval=settings.sessions.save_interval)
    conv.add(Message(role="user", content="What is 2+2?"))
    reply = conv.add(Message(role="assistant", status="streaming", model="m"))
    recorder.observe(TurnStarted(reply, 1))
    call = ToolCall(id="chatcmpl-tool-1", name="calculator", arguments='{"expression": "2+2"}')
    reply.tool_calls, reply.status = [call], "complete"
    result = conv.add(Message(role="tool", content="4", tool_call_id=call.id, name="calculator",
                              tool_status="ok"))
    recorder.observe(ToolResult(call, result))
    final = conv.add(Message(role="assistant", status="streaming", model="m"))
    recorder.observe(TurnStarted(final, 2))
    final.content = "4"
    recorder.observe(ContentDelta("4"))
    final.status, final.usage = "complete", Usage(prompt_tokens=9, completion_tokens=1)
    recorder.observe(TurnFinished(final))
    store.rename(conv.id, "Arithmetic")
    store.list()
    store.search("2+2")
    export(store.load(conv.id), data_dir() / "export.md")
    export(store.load(conv.id), data_dir() / "export.json")

    written = {p.name for p in (tmp_path / "data").rglob("*") if p.is_file()}
    assert {f"{conv.id}.json", ".index.json", "export.md", "export.json"} <= written
    assert_no_secret_in_tree(tmp_path / "data", SECRET)


def test_a_key_inside_the_base_url_is_not_saved(settings_with_key, tmp_path: Path) -> None:
    store = SessionStore()
    conv = Conversation(base_url=f"https://user:{SECRET}@gpu-box:8000/v1",
                        messages=[Message(role="user", content="hi")])
    store.save(conv)
    export(conv, tmp_path / "data" / "chat.json")
    assert store.load(conv.id).base_url == "https://gpu-box:8000/v1"
    assert_no_secret_in_tree(tmp_path / "data", SECRET)


@pytest.mark.parametrize("encode", [str.encode, lambda s: base64.b64encode(s.encode())])
def test_the_check_finds_a_secret_when_there_is_one(tmp_path: Path, encode) -> None:
    (tmp_path / "nested").mkdir()
    (tmp_path / "nested" / ".hidden").write_bytes(b"prefix " + encode(SECRET) + b" suffix")
    with pytest.raises(AssertionError, match="secret was written to: .*nested/.hidden"):
        assert_no_secret_in_tree(tmp_path, SECRET)
