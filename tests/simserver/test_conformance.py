"""The simulated server answers every captured request with the same structure as a real vLLM 0.32.

Each request in `shared/vllm-captures/**/NAME.request.json` is replayed against a
simulated server configured like the captured one (model `tiny-llama`,
`max_model_len` 2048, auto tool choice; `--api-key secret` for `auth/`, a
reasoning parser for the `reasoning_*` sets; for `round2/`, `--api-key real-key`,
or the base-model or per-request-metrics server a capture came from). A
`/metrics` capture is compared by its `vllm:` families: HELP and TYPE lines,
sample names and label names. Text differs (the real model has
random weights); status, content type, the sequence of event kinds, the key set
of every kind of chunk, and every error body must not. Where the reply's course
differs on purpose (`DIFFERENCES`, each with its reason), status, content type
and the shape of every kind of chunk both servers send are still compared.
"""

from __future__ import annotations

import dataclasses
import json

import aiohttp
import pytest

from vllm_chat.simserver import SimServer

from . import captures
from .captures import CAPTURED_SERVER

pytestmark = pytest.mark.skipif(
    not captures.available(), reason=f"the real-server captures are not there ({captures.CAPTURES})"
)

CONFIGS = {
    "main": CAPTURED_SERVER,
    "auth": dataclasses.replace(CAPTURED_SERVER, api_key="secret"),
    "reasoning_qwen3": dataclasses.replace(CAPTURED_SERVER, reasoning=True),
    "reasoning_qwen3_in_grammar": dataclasses.replace(CAPTURED_SERVER, reasoning=True),
    "reasoning_qwen3_in_grammar_nobias": dataclasses.replace(CAPTURED_SERVER, reasoning=True),
    "round2": dataclasses.replace(CAPTURED_SERVER, api_key="real-key"),
}
# round2 came from three servers; captures of the other two name theirs.
_BASE_SERVER = dataclasses.replace(CAPTURED_SERVER, models=("tiny-base",), base_models=("tiny-base",))
_METRICS_SERVER = dataclasses.replace(CAPTURED_SERVER, per_request_metrics=True)
CAPTURE_CONFIGS = {
    "round2/11_err_base_model_chat": _BASE_SERVER,
    "round2/12_base_model_completions_stream": _BASE_SERVER,
    "round2/13_base_model_tokenize_prompt": _BASE_SERVER,
    "round2/14_base_model_tokenize_messages": _BASE_SERVER,
    "round2/16_per_request_metrics_stream": _METRICS_SERVER,
    "round2/17_per_request_metrics_nonstream": _METRICS_SERVER,
}


def config_for(capture: captures.Capture):
    """The simulator configuration matching the server a capture came from."""
    return CAPTURE_CONFIGS.get(capture.id) or CONFIGS[capture.set_name]

# Extra body fields for captures whose situation the simulator reproduces on request.
REPRODUCE = {
    # The real server was SIGKILLed after 147 tokens; the `drop` fault cuts the stream the same way.
    "main/90_server_killed_mid_stream": {"sim_fault": "drop=147"},
}

# Captures whose structure differs on purpose, and why.
DIFFERENCES = {
    "main/27_tools_auto_hermes_truncated_stream": (
        "chunking: the tiny model's BPE spends 8 tokens on 'Let me check.\\n', the simulator 5, so with "
        "max_tokens=20 the simulator gets to emit the tool name and the real server does not "
        "(truncating before the name is covered by 2b and test_tool_call_cut_before_its_name_is_dropped)"
    ),
    "main/91_chat_stream_logprobs_under_load": (
        "the random model sampled tokens that decode to no text (partial UTF-8); with logprobs on, vLLM "
        "sends each as a chunk with an empty delta. The simulator's tokens always decode to text"
    ),
    "reasoning_qwen3/71_reasoning_stream_forced": (
        "on a server without enable_in_reasoning the grammar does not bind the reasoning, so the random "
        "model never closed </think>; the simulator writes the forced text as the in_grammar server does"
    ),
    "reasoning_qwen3/73_reasoning_tools_auto_stream_forced": "as 71: the real reply never left the reasoning",
    "reasoning_qwen3/75_reasoning_tools_required_stream": (
        "the real server put the forced <tool_call> text inside reasoning (a model that never closes "
        "</think>); the simulator reasons, then makes the call, as a working model does"
    ),
    "reasoning_qwen3_in_grammar/75_reasoning_tools_required_stream": "see reasoning_qwen3/75",
    "reasoning_qwen3_in_grammar_nobias/75_reasoning_tools_required_stream": "see reasoning_qwen3/75",
    "reasoning_qwen3_in_grammar_nobias/71_reasoning_stream_forced": (
        "without logit_bias the model spelled </think> out of BPE pieces and vLLM's streaming split, "
        "which looks for the token id, missed it; the simulator always emits the tag as one token"
    ),
    "reasoning_qwen3_in_grammar_nobias/73_reasoning_tools_auto_stream_forced": "as nobias/71",
    "main/14_chat_stream_n2": (
        "vLLM's n children are not in lockstep: choice 0 runs a step ahead (as the simulator does, after "
        "round2/07), and here choice 1 caught up by sending two tokens in one chunk, so its finish came "
        "right after choice 0's; the simulator keeps the lead to the end, as in round2/07"
    ),
}

# Captures whose event sequence the simulator follows exactly but where the real server also sent
# a kind of chunk the simulator never does (so its shapes are a subset of the real ones).
SUBSET_SHAPES = {
    "round2/07_n3_top_logprobs_stream": (
        "one sampled alternative of the random model decodes to no text (partial UTF-8), so a top_logprobs "
        "entry has `bytes: []`; the simulator's tokens always decode to text"
    ),
}

ALL = captures.load_all() if captures.available() else []


async def _replay(server: SimServer, capture: captures.Capture) -> tuple[int, dict[str, str], bytes]:
    body = capture.body
    extra = REPRODUCE.get(capture.id)
    if extra:
        body = json.dumps({**json.loads(body or b"{}"), **extra}).encode()
    chunks: list[bytes] = []
    async with aiohttp.ClientSession() as session:
        async with session.request(
            capture.method, server.root_url + capture.path, data=body, headers=capture.headers
        ) as response:
            try:
                async for chunk in response.content.iter_any():
                    chunks.append(chunk)
            except aiohttp.ClientPayloadError:
                pass  # a cut stream: keep what arrived, as curl did
            headers = {k.lower(): v for k, v in response.headers.items()}
            return response.status, headers, b"".join(chunks)


@pytest.mark.parametrize("capture", ALL, ids=[c.id for c in ALL])
async def test_replayed_capture_has_the_real_servers_structure(capture: captures.Capture) -> None:
    async with SimServer(config_for(capture)) as server:
        status, headers, body = await _replay(server, capture)
    real = captures.structure(capture.status, capture.response_headers, capture.response_body)
    sim = captures.structure(status, headers, body)

    assert sim.status == real.status
    assert sim.content_type == real.content_type
    if capture.id in DIFFERENCES:
        # The reply's course differs (see DIFFERENCES); every kind of chunk both send still has one shape.
        for kind in sim.shapes.keys() & real.shapes.keys():
            assert sim.shapes[kind] <= real.shapes[kind], kind
        return
    assert sim.sequence == real.sequence
    if capture.id in SUBSET_SHAPES:
        for kind in sim.shapes:
            assert sim.shapes[kind] <= real.shapes[kind], kind
    else:
        assert sim.shapes == real.shapes
    if real.content_type == "application/json" and real.status >= 400:
        assert json.loads(body) == json.loads(capture.response_body), "error bodies are copied byte for byte"
    if "error" in real.sequence:
        real_error = next(e for e in captures.sse_events(capture.response_body) if e != "[DONE]" and "error" in e)
        sim_error = next(e for e in captures.sse_events(body) if e != "[DONE]" and "error" in e)
        assert sim_error == real_error
    for name in ("allow", "transfer-encoding", "www-authenticate"):
        assert headers.get(name) == capture.response_headers.get(name), name


STREAMS = [c for c in ALL if c.response_headers.get("content-type", "").startswith("text/event-stream")]


@pytest.mark.parametrize("capture", STREAMS, ids=[c.id for c in STREAMS])
async def test_finish_chunks_carry_nothing_or_one_piece(capture: captures.Capture) -> None:
    async with SimServer(config_for(capture)) as server:
        status, headers, body = await _replay(server, capture)
    sim = captures.structure(status, headers, body)
    piece_keys = {"content", "reasoning", "content,reasoning", "content,tool_calls"}
    assert sim.finish_deltas <= piece_keys | {""}


async def test_in_stream_errors_use_spaces_after_separators_like_vllm() -> None:
    capture = next(c for c in ALL if c.name.startswith("6b_"))
    async with SimServer(CONFIGS["main"]) as server:
        _, _, body = await _replay(server, capture)
    assert body.startswith(b'data: {"error": {"message": "Requested sample logprobs of 25')
    assert body == capture.response_body
