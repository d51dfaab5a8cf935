"""`vllm-chat --demo`: the built-in simulated vLLM server, started in the background.

It runs in a thread of this process on a free loopback port, paced like a
real model (a short wait before the first token, then tens of tokens a
second), with a text model and a vision model, reasoning on request, and tool
calling enabled.
"""

from __future__ import annotations

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
