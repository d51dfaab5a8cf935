"""Per-reply capture: each token's logprob and alternatives (kept compactly, surviving a
reload and an export), and vLLM's per-request metrics."""

from __future__ import annotations

import json
import math

from vllm_chat.core.config import load_settings
from vllm_chat.core.events import TurnFinished
from vllm_chat.core.export import to_json, to_markdown
from vllm_chat.core.logprobs import LogprobsRecorder, TokenLogprobs, summary, token_docs
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer


async def one_turn(sim: SimServer, prompt: str, *, store: SessionStore | None = None,
                   **settings: object) -> ChatSession:
    session = ChatSession(load_settings({"base_url": sim.base_url, **settings}), store=store)
    session.add_user_message(prompt)
    events = [event async for event in session.run()]
    assert isinstance(events[-1], TurnFinished), events[-1]
    return session


async def test_a_reply_that_asked_for_logprobs_keeps_every_token_with_its_alternatives() -> None:
    async with SimServer(SimConfig()) as sim:
        session = await one_turn(sim, "what is 17*23", sampling={"logprobs": 3}, tools={"enabled": False})
        await session.aclose()
    reply = session.conversation.messages[-1]
    body = sim.stats.last_request_body
    assert body["logprobs"] is True and body["top_logprobs"] == 3
    table = session.logprobs_of(reply.id)
    # The end-of-sequence token counts in the usage but is not part of the text.
    assert table is not None and len(table) in (reply.usage.completion_tokens, reply.usage.completion_tokens - 1)
    assert "".join(table.texts) == reply.content
    token = table[0]
    assert len(token.alternatives) == 3 and token.rank == 1
    assert 0 < token.probability <= 1
    packed = reply.logprobs
    assert packed.mean_logprob == sum(table.logprobs) / len(table) or math.isclose(
        packed.mean_logprob, sum(table.logprobs) / len(table), abs_tol=1e-9)
    assert summary(packed).startswith("mean logprob -") and " · perplexity " in summary(packed)


async def test_a_reply_that_did_not_ask_has_no_logprobs_and_sends_no_logprobs_field() -> None:
    async with SimServer(SimConfig()) as sim:
        session = await one_turn(sim, "hello")
        await session.aclose()
    assert "logprobs" not in sim.stats.last_request_body
    assert session.conversation.messages[-1].logprobs is None
    assert session.logprobs_of(session.conversation.messages[-1].id) is None


async def test_logprobs_survive_a_reload_and_an_export() -> None:
    store = SessionStore()
    async with SimServer(SimConfig()) as sim:
        session = await one_turn(sim, "long 300", store=store, sampling={"logprobs": 5})
        await session.aclose()
    reply = session.conversation.messages[-1]
    loaded = store.load(session.conversation.id).messages[-1]
    assert loaded.logprobs is not None
    assert loaded.logprobs.tokens().texts == reply.logprobs.tokens().texts
    assert list(loaded.logprobs.tokens())[-1] == list(reply.logprobs.tokens())[-1]
    exported = json.loads(to_json(session.conversation))["messages"][-1]["logprobs"]
    again = TokenLogprobs.model_validate(exported)
    assert again.tokens().logprobs == reply.logprobs.tokens().logprobs
    assert summary(reply.logprobs) in to_markdown(session.conversation)


async def test_a_long_reply_keeps_its_logprobs_in_a_few_bytes_a_token() -> None:
    async with SimServer(SimConfig()) as sim:
        session = await one_turn(sim, "long 4000", sampling={"logprobs": 5})
        await session.aclose()
    reply = session.conversation.messages[-1]
    stored = len(reply.logprobs.model_dump_json())
    # vLLM's own JSON for the same tokens is ~600 bytes a token with 5 alternatives.
    assert reply.logprobs.count == 4000 and stored / 4000 < 16


async def test_a_continued_reply_keeps_the_logprobs_of_both_parts() -> None:
    async with SimServer(SimConfig()) as sim:
        session = await one_turn(sim, "long 120", sampling={"logprobs": 2, "max_tokens": 40},
                                 tools={"enabled": False})
        first = session.conversation.messages[-1]
        assert first.finish_reason == "length" and first.logprobs.count == 40
        events = [event async for event in session.run(session.options(continue_last=True))]
        await session.aclose()
    assert isinstance(events[-1], TurnFinished)
    reply = session.conversation.messages[-1]
    assert reply.id == first.id and reply.logprobs.count > 40
    assert "".join(reply.logprobs.tokens().texts) == reply.content


def test_tokens_split_inside_a_character_add_up_to_the_text() -> None:
    recorder = LogprobsRecorder(top_n=1)
    # 日 (e6 97 a5) in two tokens, as a byte-level tokenizer may split it, several per chunk.
    recorder.add([
        {"token": "\ufffd", "logprob": -0.5, "bytes": [0xE6, 0x97], "top_logprobs": []},
        {"token": "\ufffd", "logprob": -0.25, "bytes": [0xA5], "top_logprobs": []},
        {"token": "本", "logprob": float("-inf"), "bytes": [0xE6, 0x9C, 0xAC],
         "top_logprobs": [{"token": "本", "logprob": -0.1}]},
    ], "content")
    table = recorder.pack().tokens()
    assert table.texts == ["", "日", "本"]
    assert table.logprobs[:2] == [-0.5, -0.25] and table.logprobs[2] == -math.inf
    assert token_docs(recorder.pack())[2] == {
        "token": "本", "logprob": None, "probability": 0.0, "part": "content",
        "top": [{"token": "本", "logprob": -0.1, "probability": math.exp(-0.1)}]}


async def test_vllm_per_request_metrics_are_kept_with_the_reply_through_a_reload_and_an_export() -> None:
    store = SessionStore()
    async with SimServer(SimConfig(per_request_metrics=True)) as sim:
        session = await one_turn(sim, "hello", store=store)
        await session.aclose()
    metrics = session.conversation.messages[-1].server_metrics
    assert metrics is not None and metrics.time_to_first_token_ms is not None
    assert metrics.queue_time_ms is not None and metrics.tokens_per_second is not None
    assert metrics.summary().startswith("server: queue ")
    assert store.load(session.conversation.id).messages[-1].server_metrics == metrics, "saved with the reply"
    assert metrics.summary() in to_markdown(session.conversation)


async def test_a_server_without_per_request_metrics_leaves_them_out() -> None:
    async with SimServer(SimConfig()) as sim:
        session = await one_turn(sim, "hello")
        await session.aclose()
    assert session.conversation.messages[-1].server_metrics is None


def test_alternatives_are_ranked_by_probability_though_vllm_lists_the_sampled_token_first() -> None:
    recorder = LogprobsRecorder(top_n=3)
    # As in the real vLLM capture round2/07: the sampled "101" first, though "\n" was likelier.
    recorder.add([{"token": "101", "logprob": -8.097, "top_logprobs": [
        {"token": "101", "logprob": -8.097}, {"token": "\n", "logprob": -7.235},
        {"token": " details", "logprob": -7.713}]}], "content", "101")
    token = recorder.pack().tokens()[0]
    assert [text for text, _ in token.alternatives] == ["\n", " details", "101"]
    assert token.rank == 3
