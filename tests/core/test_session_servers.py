"""Several servers in one config: the session lists them (and the one the run started with),
asks each what it serves, and moves the conversation to another, whose own headers,
routing header and model then apply; what it knew of the old server is forgotten."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.gateway import Gateway
from vllm_chat.core.config import ConfigError, load_settings
from vllm_chat.core.events import TurnFinished
from vllm_chat.core.session import ChatSession
from vllm_chat.simserver import SimConfig, SimServer


def write_config(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


async def test_switching_moves_the_conversation_and_the_new_profiles_settings_apply(tmp_path: Path) -> None:
    async with SimServer(SimConfig(runtime_lora=True)) as first, \
            SimServer(SimConfig(models=("sim-chat", "big-model"))) as second, \
            Gateway(second.base_url, require={"X-Cluster": "b"}, routing_header="x-user-id") as gw:
        config = write_config(tmp_path / "c.toml", f'[profiles.a]\nbase_url = "{first.base_url}"\n'
                                                   f'[profiles.b]\nbase_url = "{gw.base_url}"\n'
                                                   'routing_header = "x-user-id"\n'
                                                   '[profiles.b.headers]\nX-Cluster = "b"\n'
                                                   '[profiles.broken]\nbase_url = "not a url"\n')
        session = ChatSession(load_settings(config_path=config, profile="a"))
        try:
            await session.connect()
            assert await session.runtime_lora() is True
            session.add_user_message("echo on a")
            assert isinstance([e async for e in session.run()][-1], TurnFinished)
            assert [(p.label, p.current) for p in session.profiles()] == [("a", True), ("b", False),
                                                                         ("broken", False)]
            surveyed = {s.profile.label: s for s in await session.survey_servers()}
            assert surveyed["b"].models == ("sim-chat", "big-model")
            assert "base_url" in surveyed["broken"].problem

            outcome = await session.switch_profile("b")
            assert outcome.error is None and session.connection == "connected"
            assert session.conversation.model == "sim-chat", "the same model, where the new server serves it"
            assert session.runtime_lora_known is None, "whether the new server loads adapters is asked anew"
            assert session.status().profile == "b"
            session.add_user_message("echo on b")
            assert isinstance([e async for e in session.run()][-1], TurnFinished)
            with pytest.raises(ConfigError, match="base_url"):
                await session.switch_profile("broken")
            assert session.status().profile == "b", "a broken profile changes nothing"
        finally:
            await session.aclose()
    assert gw.routing_keys == [session.conversation.id], "b's routing header, and b's X-Cluster header let it in"
    assert [m.content for m in session.conversation.messages if m.role == "user"] == ["echo on a", "echo on b"]


async def test_the_server_the_run_started_with_is_listed_and_can_be_gone_back_to(tmp_path: Path) -> None:
    async with SimServer(SimConfig()) as first, SimServer(SimConfig(models=("other-model",))) as second:
        config = write_config(tmp_path / "c.toml", f'[profiles.other]\nbase_url = "{second.base_url}"\n')
        session = ChatSession(load_settings({"base_url": first.base_url}, config_path=config))
        try:
            assert [(p.label, p.current) for p in session.profiles()] == [("as started", True), ("other", False)]
            await session.switch_profile("other")
            assert session.conversation.model == "other-model", "its first model: it doesn't serve sim-chat"
            await session.switch_profile("")
            assert session.status().server == first.base_url and session.conversation.model == "sim-chat"
        finally:
            await session.aclose()


async def test_a_server_that_does_not_answer_leaves_the_session_disconnected_saying_why(tmp_path: Path) -> None:
    async with SimServer(SimConfig()) as first:
        config = write_config(tmp_path / "c.toml", f'[profiles.a]\nbase_url = "{first.base_url}"\n'
                                                   '[profiles.down]\nbase_url = "http://127.0.0.1:9/v1"\n')
        session = ChatSession(load_settings(config_path=config, profile="a"))
        try:
            outcome = await session.switch_profile("down")
        finally:
            await session.aclose()
    assert outcome.error is not None and outcome.error.kind == "connection"
    assert session.connection == "disconnected" and session.status().profile == "down"
