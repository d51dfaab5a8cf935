"""N candidates, model comparisons and LoRA adapters against a real vLLM server.

`VLLM_CHAT_REAL_URL` (and `VLLM_CHAT_REAL_API_KEY`) name the main server CI starts
(`tiny-llama`, no runtime LoRA). `VLLM_CHAT_REAL_LORA_URL` is optional: a server
started with `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True start.sh PORT -- --enable-lora
--max-lora-rank 8` (no key, or `VLLM_CHAT_REAL_LORA_API_KEY`). The adapter it loads is
`VLLM_CHAT_REAL_LORA_PATH`, else a zero adapter written for the served model from the
`config.json` at its card's `root` (when the server runs on this machine).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.support.lora import write_zero_adapter
from vllm_chat.core.config import load_settings
from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.events import CandidateEvent, CandidatesDone, ContentDelta, TurnFinished
from vllm_chat.core.models import find_model
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.session import ChatSession

pytestmark = pytest.mark.integration

REAL_URL = os.environ.get("VLLM_CHAT_REAL_URL")
REAL_KEY = os.environ.get("VLLM_CHAT_REAL_API_KEY")
LORA_URL = os.environ.get("VLLM_CHAT_REAL_LORA_URL")
LORA_KEY = os.environ.get("VLLM_CHAT_REAL_LORA_API_KEY")
LORA_PATH = os.environ.get("VLLM_CHAT_REAL_LORA_PATH")
needs_real = pytest.mark.skipif(not REAL_URL, reason="set VLLM_CHAT_REAL_URL to a real vLLM server's /v1 URL")
needs_lora = pytest.mark.skipif(not LORA_URL, reason="set VLLM_CHAT_REAL_LORA_URL to a real vLLM started with "
                                "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True and --enable-lora")


async def connected(url: str | None, key: str | None) -> ChatSession:
    session = ChatSession(load_settings({"base_url": url, "api_key": key or "",
                                         "sampling": {"max_tokens": 12, "temperature": 1.0}}))
    await session.connect()
    return session


@needs_real
async def test_three_candidates_stream_from_one_request_and_one_is_picked() -> None:
    session = await connected(REAL_URL, REAL_KEY)
    try:
        session.add_user_message("Say something")
        events = [event async for event in session.run_candidates(session.plan_candidates(3))]
        replies = events[-1].messages
        assert isinstance(events[-1], CandidatesDone) and len(replies) == 3
        finished = sorted(e.slot for e in events if isinstance(e, CandidateEvent) and isinstance(e.event, TurnFinished))
        assert finished == [0, 1, 2]
        assert {e.slot for e in events if isinstance(e, CandidateEvent) and isinstance(e.event, ContentDelta)} \
            == {0, 1, 2}
        figures = session.status().candidates
        for figure, reply in zip(figures, replies, strict=True):
            assert reply.status == "complete" and reply.finish_reason == "length"
            assert figure.tokens == reply.usage.completion_tokens == 12, "the server's count for each choice"
            assert figure.ttft is not None
        assert session.versions() == {replies[0].id: (1, 3)}
        assert session.pick_candidate(replies[2].id) is False
        assert session.conversation.messages[-1] is replies[2]
        assert session.versions() == {replies[2].id: (3, 3)}
    finally:
        await session.aclose()


@needs_real
async def test_beam_search_candidates_arrive_whole_with_their_token_counts() -> None:
    session = await connected(REAL_URL, REAL_KEY)
    try:
        session.set_params(SamplingParams(max_tokens=6))
        session.add_user_message("Say something")
        events = [event async for event in session.run_candidates(session.plan_candidates(2, beam=True))]
        deltas = [e.slot for e in events if isinstance(e, CandidateEvent) and isinstance(e.event, ContentDelta)]
        assert deltas == [0, 1], "vLLM sends each beam in one chunk"
        for figure in session.status().candidates:
            assert figure.state == "done" and figure.tokens == 6
    finally:
        await session.aclose()


@needs_real
async def test_a_server_without_runtime_lora_names_the_settings_that_enable_it() -> None:
    session = await connected(REAL_URL, REAL_KEY)
    try:
        if await session.runtime_lora():
            pytest.skip("this server was started with runtime LoRA updating")
        with pytest.raises(ChatErrorException) as raised:
            await session.load_adapter("x", "/nonexistent")
    finally:
        await session.aclose()
    error = raised.value.error
    assert error.kind == "lora_disabled" and error.status == 404
    assert "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True" in error.hint and "--enable-lora" in error.hint


def _adapter_path(session: ChatSession, tmp_path: Path) -> str:
    if LORA_PATH:
        return LORA_PATH
    base = next(m for m in session.models if m.parent is None)
    config = Path(base.root or "") / "config.json"
    if not config.is_file():
        pytest.skip("set VLLM_CHAT_REAL_LORA_PATH: the served model's config.json is not on this machine")
    return str(write_zero_adapter(tmp_path / "zero-adapter", config))


@needs_lora
async def test_an_adapter_is_loaded_grouped_under_its_base_compared_with_it_and_unloaded(tmp_path: Path) -> None:
    session = await connected(LORA_URL, LORA_KEY)
    name = f"vllm-chat-test-{uuid.uuid4().hex[:8]}"
    try:
        assert await session.runtime_lora() is True
        card = await session.load_adapter(name, _adapter_path(session, tmp_path))
        assert card.parent is not None and card.max_model_len is None
        group = next(g for g in session.model_groups() if g.name == card.parent)
        entry = next(e for e in group.adapters if e.model.id == name)
        assert entry.context == group.base.context, "an adapter's window is its base's"

        session.add_user_message("Say something")
        plan = session.plan_comparison([card.parent, name])
        events = [event async for event in session.run_candidates(plan)]
        assert [m.model for m in events[-1].messages] == [card.parent, name]
        assert all(c.state == "done" and c.tokens > 0 for c in session.status().candidates)
        session.pick_candidate(events[-1].messages[1].id)
        assert session.conversation.model == name

        assert await session.unload_adapter(name) == card.parent
        assert find_model(session.models, name) is None
        with pytest.raises(ChatErrorException) as raised:
            await session.unload_adapter(name)
        assert "cannot be found" in raised.value.error.message
    finally:
        if find_model(session.models, name) is not None:
            await session.unload_adapter(name)
        await session.aclose()


@needs_lora
async def test_a_path_without_an_adapter_on_a_real_server_is_explained(tmp_path: Path) -> None:
    session = await connected(LORA_URL, LORA_KEY)
    try:
        with pytest.raises(ChatErrorException) as raised:
            await session.load_adapter("nothing-here", str(tmp_path / "missing"))
    finally:
        await session.aclose()
    error = raised.value.error
    assert error.kind == "lora_failed" and error.status == 404
    assert "No adapter found" in error.message and "adapter_config.json" in error.hint
