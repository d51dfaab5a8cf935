"""`vllm-chat server [--json] [--all-profiles]`: what the server says about itself, printed once.

The same facts as the TUI's server panel (version, models, requests running
and waiting, KV cache, prefix cache, preemptions, latency distributions),
for scripts and for checking a server from a shell, then how requests reach it
(the proxy the environment names, TLS trust, the extra headers' names, the
routing header). It goes through a `ChatSession` like every front end.
`--all-profiles` checks every `[profiles.NAME]` server of the config in turn.
Exit status 0 when the server (every one, with `--all-profiles`) answered at
all, 1 when one could not be reached, 2 for a bad command line or config.
Text that came from the server is made inert on a terminal, and messages (errors, facts)
show no credentials in URLs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from typing import Any

from vllm_chat.core.text import inert, message_text
from vllm_chat.gateway_flags import add_gateway_flags, gateway_overrides

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
    p.add_argument("--all-profiles", action="store_true",
                   help="check the server of every [profiles.NAME] table of the config, one after another")
    add_gateway_flags(p)
    return p


def server_main(argv: list[str]) -> int:
    """Run `vllm-chat server`; returns the exit status."""
    args = build_parser().parse_args(argv)
    from vllm_chat.core.config import ConfigError, load_settings
    from vllm_chat.core.transport import TransportError

    if args.all_profiles and (args.profile or args.base_url):
        print("vllm-chat: --all-profiles checks every profile: leave out --profile and --base-url.", file=sys.stderr)
        return 2
    overrides: dict[str, Any] = {k: v for k, v in (("base_url", args.base_url), ("api_key", args.api_key))
                                 if v is not None}
    try:
        overrides.update(gateway_overrides(args))
        settings = load_settings(overrides, config_path=args.config, profile=args.profile)
        every = _profiles(settings) if args.all_profiles else [settings]
    except (ConfigError, TransportError) as exc:
        print(f"vllm-chat: {message_text(str(exc))}", file=sys.stderr)
        return 2
    return asyncio.run(_run_all(every, args.json, named=args.all_profiles))


def _profiles(settings: Any) -> list[Any]:
    """The settings of every profile of the config (`ConfigError` when there is none)."""
    from vllm_chat.core.config import ConfigError
    from vllm_chat.core.profiles import profile_names, settings_for

    names = profile_names(settings.config_file)
    if not names:
        where = settings.config_file or "the config file"
        raise ConfigError(f"--all-profiles: {where} has no [profiles.NAME] tables.")
    return [settings_for(settings, name) for name in names]


async def _run_all(every: list[Any], as_json: bool, *, named: bool) -> int:
    """Check each server in turn; with `named`, each under its profile's name."""
    docs, status = [], 0
    for i, settings in enumerate(every):
        if named and not as_json:
            sys.stdout.write(("\n" if i else "") + f"[{message_text(settings.profile or '')}]\n")
        doc, answered = await _run(settings, as_json)
        if doc is not None:
            docs.append({"profile": settings.profile, **doc} if named else doc)
        status = status or (0 if answered else 1)
    if as_json:
        text = json.dumps(docs if named else docs[0], indent=2, ensure_ascii=False)
        sys.stdout.write((inert(text) if sys.stdout.isatty() else text) + "\n")
    sys.stdout.flush()
    return status


COMMAND_TIMEOUT = 10.0
"""Seconds each of the server's answers may take when a user runs this command and waits for
it: a busy server (or a busy machine, where this process's first requests also load their
code) gets longer than the header's background probe (`PROBE_TIMEOUT`, 2 s)."""


async def _run(settings: Any, as_json: bool) -> tuple[dict[str, Any] | None, bool]:
    """One server: its facts printed (or, `as_json`, its document returned) and whether it answered."""
    from vllm_chat.core.session import ChatSession
    from vllm_chat.core.telemetry.facts import server_facts, snapshot_doc

    session = ChatSession(settings)
    for problem in session.problems:
        sys.stderr.write(f"vllm-chat: {message_text(problem)}\n")
    try:
        snapshot = await session.refresh_server(timeout=COMMAND_TIMEOUT)
        connection = session.connection_facts()
    finally:
        await session.aclose()
    answered = bool(snapshot.version or snapshot.models or snapshot.metrics)
    doc = None
    if as_json:
        doc = {**snapshot_doc(snapshot), "connection": {label.lower().replace(" ", "_"): value
                                                        for label, value in connection}}
    else:
        for label, value in [(f.label, f.value) for f in server_facts(snapshot)] + connection:
            sys.stdout.write(f"{label:<{LABEL_WIDTH}}{message_text(value)}\n")
    if not answered:
        sys.stderr.write(f"vllm-chat: the server at {message_text(snapshot.server)} did not answer "
                         f"({message_text(_why(snapshot))}).\n")
    return doc, answered


def _why(snapshot: Any) -> str:
    """Why a server gave nothing: the usual question, then its model list's problem (a TLS
    or auth refusal says what it is)."""
    usual = "is `vllm serve` running there? check --base-url"
    return f"{usual}: {snapshot.models_problem}" if snapshot.models_problem else usual
