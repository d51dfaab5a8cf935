"""`vllm-chat --demo`: the built-in simulated vLLM server, started in the background.

It runs in a thread of this process on a free loopback port, paced like a
real model (a short wait before the first token, then tens of tokens a
second), with a text model and a vision model, reasoning on request, and tool
calling enabled. The model a user set for their own server (config,
environment) means nothing to it, so a demo run uses the simulated server's
models only (`demo_model`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

DEMO_TPS = 80.0
"""Tokens per second the demo model streams at."""
DEMO_TTFT = 0.35
"""Seconds before the demo model's first token."""


def start_demo_server() -> Any:
    """Start the simulated server; the returned object has `base_url` and `stop()`."""
    from vllm_chat.simserver import SimConfig, SimServer

    config = SimConfig(tps=DEMO_TPS, ttft=DEMO_TTFT, limit_images=4)
    return SimServer(config).start_in_thread()


def demo_model(served: Sequence[str], flag: str | None) -> tuple[str, str | None]:
    """The model a demo run uses, and a note for the user (or None).

    The `--model` flag is honoured when the simulated server serves that name;
    otherwise the first served model is used and the note says so. A model
    from the config or the environment is not passed here: it names a model
    of the user's real server, which the demo server does not have.
    """
    first = served[0]
    if flag is None or flag in served:
        return (flag or first), None
    return first, (f"the demo server does not serve {flag!r}; using {first!r} "
                   f"(it serves {', '.join(served)}).")
