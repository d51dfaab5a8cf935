"""`SimConfig`: everything that makes one simulated vLLM server differ from another.

The defaults describe a plain server: two models (`sim-chat`, text only, and
`sim-vision`, which accepts images, audio and video), auto tool choice on, no
API key, tokens as fast as possible, room for 256 requests at once. The
`--demo` server (`vllm_chat/demo.py`) adds pacing, a base model, a LoRA
adapter, runtime LoRA loading and a small engine that queues.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from vllm_chat.simserver import faults

DEFAULT_MODELS = ("sim-chat", "sim-vision")
DEFAULT_MAX_MODEL_LEN = 32768
DEFAULT_KV_CACHE_TOKENS = 524288
VLLM_VERSION = "0.32.0"


@dataclass(frozen=True)
class SimConfig:
    """How the simulated server behaves. Frozen: build a new one to change it."""

    models: tuple[str, ...] = DEFAULT_MODELS
    """Served model names; the first one answers requests that omit `model`."""
    api_key: str | None = None
    """When set, `/v1/*` needs `Authorization: Bearer <key>` (401 otherwise), like `--api-key`."""
    tps: float = 0.0
    """Tokens per second per stream; 0 sends every token as fast as possible."""
    ttft: float = 0.0
    """Seconds between the request and its first token (queue plus prefill)."""
    reasoning: bool = False
    """Behave like a server run with `--reasoning-parser`: replies open with reasoning
    (a request can still switch it off with `chat_template_kwargs.enable_thinking: false`)."""
    reasoning_field: Literal["reasoning", "reasoning_content"] = "reasoning"
    """Name of the reasoning field: `reasoning` (vLLM >= 0.11.1) or the legacy `reasoning_content`."""
    max_model_len: int = DEFAULT_MAX_MODEL_LEN
    """Context window in tokens, as `--max-model-len`; longer prompts get vLLM's 400."""
    loras: Mapping[str, str] = field(default_factory=dict)
    """LoRA adapters as `{name: parent model}`; listed in `/v1/models` and usable as `model`."""
    multimodal_models: tuple[str, ...] = ("sim-vision",)
    """Models that accept image, audio and video parts; the others answer
    `<model> is not a multimodal model` (a LoRA inherits its parent's)."""
    limit_images: int | None = None
    """Most images one prompt may carry, as `--limit-mm-per-prompt '{"image": N}'`; None = no limit."""
    auto_tool_choice: bool = True
    """Behave like `--enable-auto-tool-choice --tool-call-parser hermes`; when False,
    requests with tools get vLLM's 400 about the missing parser."""
    fault: str | None = None
    """A fault applied to every chat request, e.g. `"drop"` or `"stall=3"` (see `faults.py`)."""
    duplicate_index_tool_deltas: bool = False
    """Send a tool call's name and first argument fragment in one delta, as two
    `tool_calls` entries with the same index (a quirk of some vLLM tool parsers)."""
    null_content_transition: bool = True
    """End reasoning with a delta carrying `"content": null` next to the last reasoning
    piece, as vLLM's think-tag parsers do when `</think>` shares a chunk with text."""
    sse_keep_alive: float = 0.0
    """Seconds of silence after which a `: keep-alive` comment is sent, as
    `--sse-keep-alive-interval`; 0 = never (the `keepalive` fault turns it on per request)."""
    host: str = "127.0.0.1"
    """Interface to listen on."""
    port: int = 0
    """TCP port; 0 picks a free one (read it back from `SimServer.port`)."""
    version: str = VLLM_VERSION
    """What `GET /version` reports and `system_fingerprint` is built from."""
    base_models: tuple[str, ...] = ()
    """Served models without a chat template (base models, added to `models` if missing): chat
    and `/tokenize` with `messages` get vLLM's 400 about the missing template unless the request
    brings its own `chat_template`; `/v1/completions` and `/tokenize` with `prompt` work."""
    trust_request_chat_template: bool = False
    """Like `--trust-request-chat-template`: a request's own `chat_template` (Jinja) renders the
    prompt; without it such a request gets vLLM's 400."""
    per_request_metrics: bool = False
    """Like `--enable-per-request-metrics`: timing `metrics` at the top level of a response and
    in the final usage chunk of a stream (for `n` = 1)."""
    runtime_lora: bool = False
    """Like `VLLM_ALLOW_RUNTIME_LORA_UPDATING=True`: `/v1/load_lora_adapter` and
    `/v1/unload_lora_adapter` exist (404 `{"detail":"Not Found"}` otherwise)."""
    adapter_examples: tuple[str, ...] = ()
    """Folders holding loadable LoRA adapters, which the `help` reply names (the demo makes one)."""
    max_num_seqs: int = 256
    """Most sequences generating at once, as `--max-num-seqs`; further requests wait in a queue
    (`vllm:num_requests_waiting`). A request with `n` choices takes `n`."""
    kv_cache_tokens: int = DEFAULT_KV_CACHE_TOKENS
    """KV-cache size in tokens: running requests' prompt and output tokens fill it
    (`vllm:kv_cache_usage_perc`); a request that would overflow it waits, and a running one
    that overflows it is preempted (`vllm:num_preemptions_total`). The default grows to one
    full context when `max_model_len` is larger; a smaller explicit size is refused."""
    block_size: int = 16
    """Tokens per KV-cache block: prefix caching reuses whole blocks of a repeated prompt prefix
    (`vllm:prefix_cache_hits_total`)."""
    background_load: int = 0
    """Simulated requests from other users kept in the engine at all times (each runs a few
    seconds, then another arrives): a busy server, for trying a client's load display."""
    load_seconds: float = 4.0
    """How long each simulated request from another user runs once it has a slot."""
    router_retry_after: int = 2
    """Seconds in the `Retry-After` header of the `429` and `503` router faults."""

    def __post_init__(self) -> None:
        if not self.models:
            raise ValueError("SimConfig.models needs at least one model name")
        if self.reasoning_field not in ("reasoning", "reasoning_content"):
            raise ValueError("reasoning_field must be 'reasoning' or 'reasoning_content'")
        if self.max_model_len < 16:
            raise ValueError("max_model_len must be at least 16")
        if self.tps < 0 or self.ttft < 0 or self.sse_keep_alive < 0:
            raise ValueError("tps, ttft and sse_keep_alive must not be negative")
        if self.load_seconds < 0:
            raise ValueError("load_seconds must not be negative")
        if self.max_num_seqs < 1 or self.block_size < 1 or self.background_load < 0:
            raise ValueError("max_num_seqs and block_size must be at least 1, background_load not negative")
        if self.kv_cache_tokens == DEFAULT_KV_CACHE_TOKENS < self.max_model_len:
            object.__setattr__(self, "kv_cache_tokens", self.max_model_len)
        if self.kv_cache_tokens < self.max_model_len:
            raise ValueError("kv_cache_tokens must hold at least one full context (max_model_len)")
        missing = tuple(m for m in self.base_models if m not in self.models)
        if missing:
            object.__setattr__(self, "models", self.models + missing)
        if self.fault is not None:
            faults.parse(self.fault)
        for name, parent in self.loras.items():
            if parent not in self.models:
                raise ValueError(f"LoRA {name!r}: parent {parent!r} is not one of the served models")

    @property
    def fingerprint(self) -> str:
        """`system_fingerprint`: `vllm-<version>-<8 hex of the config>`, stable per config."""
        digest = hashlib.sha256(repr((self.models, self.max_model_len)).encode()).hexdigest()
        return f"vllm-{self.version}-{digest[:8]}"

    def parent_of(self, model: str) -> str:
        """The base model behind a served name (a LoRA's parent, else the name itself)."""
        return self.loras.get(model, model)

    def is_multimodal(self, model: str) -> bool:
        """Whether `model` (or the base model of a LoRA) accepts media parts."""
        return self.parent_of(model) in self.multimodal_models

    def has_chat_template(self, model: str) -> bool:
        """Whether `model` (or the base model of a LoRA) ships a chat template."""
        return self.parent_of(model) not in self.base_models
