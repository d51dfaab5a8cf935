"""`SimContext`: everything one running server's handlers share, frozen and live.

The configuration never changes; the counters, the engine (queue and KV cache), the
served names (adapters come and go at runtime) and the router faults waiting to fire do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aiohttp import web

from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.engine import Engine
from vllm_chat.simserver.metrics import SimStats
from vllm_chat.simserver.models import ModelRegistry
from vllm_chat.simserver.prometheus import registry_for


@dataclass
class RouterFault:
    """Answers a router or gateway gives instead of passing requests on (`sim:429`, `sim:503`)."""

    status: int
    """429 or 503."""
    retry_after: int
    """Seconds in the `Retry-After` header."""
    remaining: int
    """Generation requests still to be answered this way."""


@dataclass
class SimContext:
    """What every handler needs."""

    config: SimConfig
    """The server's configuration."""
    stats: SimStats
    """The counters `/metrics` and `SimServer.stats` report."""
    engine: Engine = field(init=False)
    """Slots, queue, KV cache and prefix cache."""
    models: ModelRegistry = field(init=False)
    """Served models and adapters."""
    router_fault: RouterFault | None = None
    """A pending run of 429/503 answers, if any."""
    router_answered: set[str] = field(default_factory=set)
    """Requests (their messages or prompt) a router fault already answered: sent again, they pass."""

    def __post_init__(self) -> None:
        if not self.stats.histograms:
            self.stats.prepare_histograms(self.config.max_model_len)
        self.engine = Engine(self.config, self.stats)
        self.models = ModelRegistry(self.config)
        self.metrics_registry = registry_for(self.config, self.stats)


CONTEXT = web.AppKey("simserver_context", SimContext)
