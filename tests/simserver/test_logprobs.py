"""Logprobs, several choices and beam search on the simulated server, in vLLM's shapes."""

from __future__ import annotations

import math

from .helpers import chat, request, user

SENTENCE = "echo The answer is 42, said Ada Lovelace."


async def test_streamed_logprobs_have_one_entry_per_token_headed_by_the_sampled_token(sim, http):
    reply = await chat(http, sim, {"messages": user(SENTENCE), "stream": True, "logprobs": True, "top_logprobs": 3})
    content_chunks = [c for c in reply.chunks if c["choices"] and c["choices"][0]["delta"].get("content")]
    tokens = []
    for chunk in content_chunks:
        choice = chunk["choices"][0]
        (entry,) = choice["logprobs"]["content"]
        assert entry["token"] == choice["delta"]["content"]
        assert entry["bytes"] == list(entry["token"].encode())
        assert entry["top_logprobs"][0]["token"] == entry["token"]
        assert len(entry["top_logprobs"]) == 3
        assert entry["logprob"] == max(e["logprob"] for e in entry["top_logprobs"]) <= 0
        tokens.append(entry["token"])
    assert "".join(tokens) == reply.text() == "The answer is 42, said Ada Lovelace."


async def test_alternatives_are_less_likely_and_probabilities_stay_below_one(sim, http):
    reply = await chat(http, sim, {"messages": user(SENTENCE), "logprobs": True, "top_logprobs": 5})
    for entry in reply.json["choices"][0]["logprobs"]["content"]:
        logprobs = [e["logprob"] for e in entry["top_logprobs"]]
        assert logprobs == sorted(logprobs, reverse=True) and len({e["token"] for e in entry["top_logprobs"]}) == 5
        assert sum(math.exp(lp) for lp in logprobs) <= 1.0 + 1e-9


async def test_probabilities_follow_the_content(sim, http):
    reply = await chat(http, sim, {"messages": user(SENTENCE), "logprobs": True, "top_logprobs": 1})
    by_token = {e["token"]: math.exp(e["logprob"]) for e in reply.json["choices"][0]["logprobs"]["content"]}
    assert by_token[" is"] > by_token[" 42"], "common words are surer than numbers"
    assert by_token[","] > by_token[" Lovelace"], "punctuation is surer than names"
    assert len({round(p, 3) for p in by_token.values()}) > 4, "a heat-map has something to show"


async def test_streamed_and_non_streamed_logprobs_agree(sim, http):
    body = {"messages": user(SENTENCE), "logprobs": True, "top_logprobs": 2}
    whole = (await chat(http, sim, body)).json["choices"][0]["logprobs"]["content"]
    streamed = await chat(http, sim, {**body, "stream": True})
    parts = [e for c in streamed.chunks if c["choices"] and c["choices"][0]["logprobs"]
             for e in c["choices"][0]["logprobs"]["content"]]
    assert parts == whole


async def test_logprobs_without_top_logprobs_list_no_alternatives(sim, http):
    reply = await chat(http, sim, {"messages": user("echo hi there"), "logprobs": True})
    assert all(e["top_logprobs"] == [] for e in reply.json["choices"][0]["logprobs"]["content"])


async def test_three_choices_interleave_each_with_its_own_finish_and_usage_sums(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "stream": True, "n": 3, "max_tokens": 4,
                                   "logprobs": True, "top_logprobs": 3, "stream_options": {"include_usage": True}})
    order = [c["choices"][0]["index"] for c in reply.chunks if c["choices"]]
    # The role chunks, then choice 0 a step ahead of the others (capture round2/07).
    assert order == [0, 1, 2, 0, 0, 1, 2, 0, 1, 2, 0, 1, 2, 1, 2]
    assert {i: reply.finish(i)["finish_reason"] for i in range(3)} == {0: "length", 1: "length", 2: "length"}
    assert reply.chunks[-1]["usage"] == {"prompt_tokens": reply.chunks[-1]["usage"]["prompt_tokens"],
                                         "total_tokens": reply.chunks[-1]["usage"]["prompt_tokens"] + 12,
                                         "completion_tokens": 12}
    assert len({reply.text(index=i) for i in range(3)}) > 1, "choices are worded differently"


async def test_choices_of_different_lengths_finish_on_their_own(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "n": 2, "max_tokens": 1000})
    choices = reply.json["choices"]
    lengths = [len(c["message"]["content"]) for c in choices]
    assert lengths[0] != lengths[1] and all(c["finish_reason"] == "stop" for c in choices)


async def test_beam_search_streams_each_beam_whole_at_the_end(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "stream": True, "n": 2, "max_tokens": 5,
                                   "use_beam_search": True, "stream_options": {"include_usage": True}})
    kinds = [list(c["choices"][0]["delta"]) if c["choices"] else "usage" for c in reply.chunks]
    assert kinds == [["role", "content"], ["role", "content"], ["content"], ["content"], "usage"]
    beams = reply.chunks[2:4]
    assert [b["choices"][0]["finish_reason"] for b in beams] == ["length", "length"]
    assert all("system_fingerprint" not in b for b in beams)
    assert reply.chunks[-1]["usage"]["completion_tokens"] == 10


async def test_with_continuous_usage_each_chunk_counts_its_own_choice_and_each_beam_its_own(sim, http):
    # As vLLM 0.32 sends them (checked against a real server): a chunk's usage counts the tokens
    # of the choice it carries, so a client can count every candidate exactly.
    options = {"include_usage": True, "continuous_usage_stats": True}
    sampled = await chat(http, sim, {"messages": user("hello"), "stream": True, "n": 2, "max_tokens": 4,
                                     "stream_options": options})
    counts: dict[int, list[int]] = {0: [], 1: []}
    for chunk in sampled.chunks:
        if chunk["choices"]:
            counts[chunk["choices"][0]["index"]].append(chunk["usage"]["completion_tokens"])
    assert counts == {0: [0, 1, 2, 3, 4], 1: [0, 1, 2, 3, 4]}
    beams = await chat(http, sim, {"messages": user("hello"), "stream": True, "n": 2, "max_tokens": 5,
                                   "use_beam_search": True, "stream_options": options})
    whole = [c for c in beams.chunks if c["choices"] and "role" not in c["choices"][0]["delta"]]
    assert [c["usage"]["completion_tokens"] for c in whole] == [5, 5]


async def test_beam_search_logprobs_leave_the_token_bytes_null(sim, http):
    reply = await chat(http, sim, {"messages": user("hello"), "n": 2, "max_tokens": 3, "use_beam_search": True,
                                   "logprobs": True, "top_logprobs": 2})
    entries = reply.json["choices"][1]["logprobs"]["content"]
    assert len(entries) == 3 and all(e["bytes"] is None for e in entries)


async def test_legacy_completion_logprobs_use_the_legacy_shape(sim, http):
    reply = await request(http, "POST", sim.base_url + "/completions",
                          {"model": "sim-chat", "prompt": "Once upon a time", "max_tokens": 4, "logprobs": 2})
    logprobs = reply.json["choices"][0]["logprobs"]
    assert list(logprobs) == ["text_offset", "token_logprobs", "tokens", "top_logprobs"]
    assert "".join(logprobs["tokens"]) == reply.json["choices"][0]["text"]
    assert logprobs["text_offset"][0] == 0 and all(len(m) == 3 for m in logprobs["top_logprobs"])
    streamed = await request(http, "POST", sim.base_url + "/completions",
                             {"model": "sim-chat", "prompt": "Once upon a time", "max_tokens": 4, "logprobs": 2,
                              "stream": True})
    offsets = [c["choices"][0]["logprobs"]["text_offset"][0] for c in streamed.chunks]
    assert offsets == logprobs["text_offset"]
