"""LoRA adapters through `ChatSession`: the model list grouped under base models (an
adapter's context window is its parent's), adapters loaded and unloaded at runtime where
the server allows it, and where it doesn't, the server settings that enable it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import TEST_API_KEY
from vllm_chat.core.config import load_settings
from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.lora import group_models
from vllm_chat.core.models import ModelInfo
from vllm_chat.core.session import ChatSession
from vllm_chat.simserver import SimConfig, SimServer


def adapter_dir(tmp_path: Path, name: str = "formal") -> str:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    return str(folder)


def session_for(server: SimServer, model: str = "sim-chat") -> ChatSession:
    return ChatSession(load_settings({"base_url": server.base_url, "api_key": TEST_API_KEY, "model": model}))


def test_adapters_are_grouped_under_their_base_model_with_its_context_window() -> None:
    models = [
        ModelInfo("base-a", max_model_len=4096),
        ModelInfo("terse", parent="base-a"),
        ModelInfo("base-b", max_model_len=8192),
        ModelInfo("formal", parent="base-a", max_model_len=2048),
        ModelInfo("orphan", parent="not-listed"),
    ]
    groups = group_models(models)
    assert [(g.name, g.base is not None, [e.model.id for e in g.adapters]) for g in groups] == [
        ("base-a", True, ["terse", "formal"]), ("base-b", True, []), ("not-listed", False, ["orphan"])]
    contexts = {e.model.id: e.context for g in groups for e in g.entries}
    assert contexts == {"base-a": 4096, "terse": 4096, "formal": 2048, "base-b": 8192, "orphan": None}
    assert [e.is_adapter for e in groups[0].entries] == [False, True, True]


async def test_the_session_groups_the_servers_adapters_from_their_cards() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, loras={"sim-chat-terse": "sim-chat"})) as server:
        session = session_for(server)
        await session.connect()
        groups = session.model_groups()
        await session.aclose()
    chat = next(g for g in groups if g.name == "sim-chat")
    assert [(e.model.id, e.context) for e in chat.adapters] == [("sim-chat-terse", chat.base.context)]
    assert chat.adapters[0].model.max_model_len is None, "the card itself says null, as vLLM's do"


async def test_loading_an_adapter_serves_it_under_its_base_and_unloading_takes_it_away(tmp_path: Path) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, runtime_lora=True)) as server:
        session = session_for(server)
        await session.connect()
        assert await session.runtime_lora() is True
        card = await session.load_adapter("formal", adapter_dir(tmp_path))
        assert card.id == "formal" and card.parent == "sim-chat"
        assert "formal" in [e.model.id for g in session.model_groups() for e in g.adapters]
        assert await session.unload_adapter("formal") is None
        listed = [m.id for m in session.models]
        await session.aclose()
    assert "formal" not in listed


async def test_runtime_lora_is_asked_without_side_effects_and_remembered() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, runtime_lora=False)) as server:
        session = session_for(server)
        assert session.runtime_lora_known is None
        assert await session.runtime_lora() is False
        assert session.runtime_lora_known is False
        await session.aclose()


async def test_a_server_without_runtime_lora_says_which_settings_enable_it(tmp_path: Path) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, runtime_lora=False)) as server:
        session = session_for(server)
        with pytest.raises(ChatErrorException) as raised:
            await session.load_adapter("formal", adapter_dir(tmp_path))
        await session.aclose()
    error = raised.value.error
    assert error.kind == "lora_disabled" and "does not load LoRA adapters" in error.message
    assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True" in error.hint and "--enable-lora" in error.hint
    assert session.runtime_lora_known is False


@pytest.mark.parametrize(("name", "path", "expected"), [
    ("formal", "/nowhere/formal", "adapter_config.json"),
    ("sim-chat", None, "another name"),
    ("", "/x", "a name and a path"),
], ids=["no-adapter-there", "name-of-a-base-model", "empty-name"])
async def test_an_adapter_the_server_refuses_is_explained(tmp_path: Path, name: str, path: str | None,
                                                          expected: str) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, runtime_lora=True)) as server:
        session = session_for(server)
        with pytest.raises(ChatErrorException) as raised:
            await session.load_adapter(name, path or adapter_dir(tmp_path))
        await session.aclose()
    error = raised.value.error
    assert error.kind == "lora_failed"
    assert expected in f"{error.message} {error.hint}"


async def test_loading_the_same_adapter_twice_says_it_is_loaded_already(tmp_path: Path) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, runtime_lora=True)) as server:
        session = session_for(server)
        path = adapter_dir(tmp_path)
        await session.load_adapter("formal", path)
        with pytest.raises(ChatErrorException) as raised:
            await session.load_adapter("formal", path)
        await session.aclose()
    assert "already been loaded" in raised.value.error.message
    assert "unload it first" in raised.value.error.hint


async def test_unloading_the_adapter_the_conversation_uses_moves_it_to_the_base_model(tmp_path: Path) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, runtime_lora=True)) as server:
        session = session_for(server)
        await session.connect()
        await session.load_adapter("formal", adapter_dir(tmp_path))
        session.set_model("formal")
        assert session.context_window == session.models[0].max_model_len, "the adapter has its base's window"
        assert await session.unload_adapter("formal") == "sim-chat"
        assert session.conversation.model == "sim-chat"
        with pytest.raises(ChatErrorException) as raised:
            await session.unload_adapter("formal")
        await session.aclose()
    assert "cannot be found" in raised.value.error.message
