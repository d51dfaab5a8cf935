"""`vllm-chat server [--json]`: what the server says about itself, printed once.

The same facts as the TUI's server panel (version, models, requests running
and waiting, KV cache, prefix cache, preemptions, latency distributions),
for scripts and for checking a server from a shell. It goes through a
`ChatSession` like every front end. Exit status 0 when the server answered
at all, 1 when it could not be reached, 2 for a bad command line or config.
Text that came from the server is made inert on a terminal.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from vllm_chat.core.text import inert

LABEL_WIDTH = 21
"""Columns of the label column in the text output."""


def build_parser() -> argparse.ArgumentParser:
    """The parser for `vllm-chat server`."""
    p = argparse.ArgumentParser(
        prog="vllm-chat server",
        description="Print what the vLLM server says about itself: version, models, load, cache, latencies.",
    )
    p.add_argument("--json", action="store_true", help="one JSON object (null: not reported)")
    p.add_argument("--base-url", help="OpenAI-compatible base URL, /v1 included (default http://localhost:8000/v1)")
    p.add_argument("--api-key", help="API key the server was started with (--api-key)")
    p.add_argument("--profile", help="use the [profiles.NAME] table of the config")
    p.add_argument("--config", help="config file (default: the platform config folder)")
    return p


def server_main(argv: list[str]) -> int:
    """Run `vllm-chat server`; returns the exit status."""
    args = build_parser().parse_args(argv)
    from vllm_chat.core.config import ConfigError, load_settings

    overrides: dict[str, Any] = {k: v for k, v in (("base_url", args.base_url), ("api_key", args.api_key))
                                 if v is not None}
    try:
        settings = load_settings(overrides, config_path=args.config, profile=args.profile)
    except ConfigError as exc:
        print(f"vllm-chat: {exc}", file=sys.stderr)
        return 2
    return asyncio.run(_run(settings, args.json))


async def _run(settings: Any, as_json: bool) -> int:
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.telemetry.facts import server_facts, snapshot_doc

    session = ChatSession(settings)
    try:
        snapshot = await session.refresh_server()
    finally:
        await session.aclose()
    answered = bool(snapshot.version or snapshot.models or snapshot.metrics)
    tty = sys.stdout.isatty()
    if as_json:
        text = json.dumps(snapshot_doc(snapshot), indent=2, ensure_ascii=False)
        sys.stdout.write((inert(text) if tty else text) + "\n")
    else:
        for fact in server_facts(snapshot):
            sys.stdout.write(f"{fact.label:<{LABEL_WIDTH}}{inert(fact.value)}\n")
    sys.stdout.flush()
    if not answered:
        sys.stderr.write(f"vllm-chat: the server at {inert(snapshot.server)} did not answer "
                         "(is `vllm serve` running there? check --base-url).\n")
        return 1
    return 0
