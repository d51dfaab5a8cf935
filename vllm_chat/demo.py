"""`vllm-chat --demo`: the built-in simulated vLLM server, started in the background.

It runs in a thread of this process on a free loopback port, paced like a
real model (a short wait before the first token, then tens of tokens a
second), and serves what a well-equipped vLLM deployment does: a text model
(`sim-chat`) with a LoRA adapter (`sim-chat-terse`), a vision model
(`sim-vision`), a base model without a chat template (`sim-base`, for
completion mode), runtime LoRA loading (an example adapter folder is made in
the temp folder), request chat templates, per-request metrics, and an engine
small enough to queue (4 requests at once) so `sim:load=N` fills it. Reasoning
on request, tool calling enabled. The model a user set for their own server
(config, environment) means nothing to it, so a demo run uses the simulated
server's models only (`demo_model`).

The demo also brings a tool of its own, `weather` (made-up data, asks for approval
before each call), so that every phrase the simulated model advertises works with
the default config, the approval flow included (`demo_settings`).
"""

from __future__ import annotations

import json
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vllm_chat.core.config import PythonTool, Settings

DEMO_TPS = 80.0
"""Tokens per second the demo model streams at."""
DEMO_TTFT = 0.35
"""Seconds before the demo model's first token."""
DEMO_MAX_NUM_SEQS = 4
"""Requests the demo engine runs at once; `sim:load=N` queues others behind them."""
DEMO_KV_CACHE_TOKENS = 131072
"""The demo engine's KV cache: four full contexts."""
DEMO_ADAPTER = "sim-formal"
"""The example adapter folder's name (load it with `/v1/load_lora_adapter`)."""
DEMO_WEATHER = "vllm_chat.demo:weather"
"""The demo's own tool (`[[tools.python]]` function path)."""

_SKIES = ("sunny", "partly cloudy", "overcast", "light rain", "showers", "windy and clear")


def weather(city: str) -> str:
    """Today's weather in a city: temperature, conditions and wind. In the demo the data is made up.

    Args:
        city: The city, e.g. "Paris" or "Buenos Aires".
    """
    seed = zlib.crc32(city.strip().lower().encode())
    return (f"{city.strip()}: {8 + seed % 20} °C, {_SKIES[seed % len(_SKIES)]}, wind {5 + seed % 25} km/h "
            "(made-up demo data, the same on every run)")


def demo_settings(settings: Settings, base_url: str, model: str) -> Settings:
    """The settings of a demo run: the simulated server and its model, and the demo's
    `weather` tool, which asks for approval before each call (unless the user's config
    has a tool of that name already)."""
    tools = settings.tools
    names = {entry.name or entry.function.rsplit(":", 1)[-1].rsplit(".", 1)[-1] for entry in tools.python}
    names |= {entry.name for entry in tools.shell}
    if "weather" not in names:
        demo_tool = PythonTool(function=DEMO_WEATHER, confirm=True)
        tools = tools.model_copy(update={"python": [*tools.python, demo_tool]})
    return settings.model_copy(update={"base_url": base_url, "model": model, "tools": tools})


def example_adapter_dir() -> str:
    """A folder holding a (weightless) LoRA adapter the demo server can load at runtime."""
    folder = Path(tempfile.gettempdir()) / "vllm-chat-demo" / "adapters" / DEMO_ADAPTER
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "adapter_config.json"
    if not config.exists():
        config.write_text(json.dumps({
            "peft_type": "LORA", "r": 8, "lora_alpha": 16, "target_modules": ["q_proj", "v_proj"],
            "base_model_name_or_path": "sim-chat", "task_type": "CAUSAL_LM",
        }, indent=2))
    return str(folder)


def demo_config() -> Any:
    """The simulated server's configuration for a demo run (a `SimConfig`)."""
    from vllm_chat.simserver import SimConfig

    return SimConfig(
        tps=DEMO_TPS,
        ttft=DEMO_TTFT,
        limit_images=4,
        base_models=("sim-base",),
        loras={"sim-chat-terse": "sim-chat"},
        runtime_lora=True,
        adapter_examples=(example_adapter_dir(),),
        trust_request_chat_template=True,
        per_request_metrics=True,
        max_num_seqs=DEMO_MAX_NUM_SEQS,
        kv_cache_tokens=DEMO_KV_CACHE_TOKENS,
    )


def start_demo_server() -> Any:
    """Start the simulated server; the returned object has `base_url` and `stop()`."""
    from vllm_chat.simserver import SimServer

    return SimServer(demo_config()).start_in_thread()


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
