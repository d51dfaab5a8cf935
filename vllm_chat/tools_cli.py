"""`vllm-chat tools list [--json]`: every tool the model would be offered, and the MCP servers.

It connects the configured MCP servers the way a chat does (each within its
`connect_timeout`), lists every tool with its source (built-in, python,
shell, mcp), whether it asks before running, and with `--json` its schema;
then each MCP server with its state, and for a failed one the reason and the
last lines of its stderr. The servers are stopped before it exits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import asdict
from typing import Any

from vllm_chat.core.text import json_text, message_text


def build_parser() -> argparse.ArgumentParser:
    """The parser for `vllm-chat tools ...`."""
    p = argparse.ArgumentParser(prog="vllm-chat tools", description="The tools the model is offered.")
    p.add_argument("--config", help="config file (default: the platform config folder)")
    p.add_argument("--profile", help="use the [profiles.NAME] table of the config")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="every tool (built-in, python, shell, MCP) and every MCP server")
    ls.add_argument("--json", action="store_true", help="one JSON object, with each tool's schema")
    return p


def tools_main(argv: list[str]) -> int:
    """Run a `tools` subcommand; returns the exit status."""
    args = build_parser().parse_args(argv)
    from vllm_chat.core.config import ConfigError, load_settings

    try:
        settings = load_settings(config_path=args.config, profile=args.profile)
    except ConfigError as exc:
        print(f"vllm-chat: {message_text(str(exc))}", file=sys.stderr)
        return 2
    doc = asyncio.run(_gather(settings))
    if args.json:
        print(json_text(doc, indent=2))
    else:
        _print(doc)
    return 0


async def _gather(settings: Any) -> dict[str, Any]:
    from vllm_chat.core.session import ChatSession

    session = ChatSession(settings)
    try:
        await session.wait_for_tool_servers()
        tools = [asdict(entry) for entry in session.tool_catalog()]
        servers = [asdict(status) for status in session.tool_servers()]
    finally:
        await session.aclose()
    for problem in session.problems:
        print(f"vllm-chat: {message_text(problem)}", file=sys.stderr)
    return {"tools_enabled": settings.tools.enabled, "tools": tools, "servers": servers}


def _print(doc: dict[str, Any]) -> None:
    tools, servers = doc["tools"], doc["servers"]
    if not doc["tools_enabled"]:
        print("Tools are switched off ([tools] enabled = false); ctrl+t switches them on in a chat.\n")
    print(f"Tools ({len(tools)}):" if tools else "No tools are offered.")
    width = max((len(t["name"]) for t in tools), default=0)
    for t in tools:
        source = f"mcp:{t['server']}" if t["source"] == "mcp" else t["source"]
        ask = "asks first" if t["needs_approval"] else "runs at once"
        first_line = (t["description"] or "").strip().splitlines()[:1]
        what = message_text("".join(first_line))[:70]
        print(f"  {message_text(t['name']):<{width}}  {message_text(source):<16.16}  {ask:<12}  {what}")
    if not servers:
        return
    print(f"\nMCP servers ({len(servers)}):")
    for s in servers:
        print(f"  {message_text(s['name'])}  [{s['transport']}]  {message_text(s['target'])}")
        print(f"    {message_text(s['detail'])}")
        if s["server_info"]:
            print(f"    server: {message_text(s['server_info'])}")
        for note in s["notes"]:
            print(f"    note: {message_text(note)}")
        if s["state"] == "failed" and s["stderr"]:
            print("    stderr (last lines):")
            for line in s["stderr"][-8:]:
                print(f"      {message_text(line)}")
