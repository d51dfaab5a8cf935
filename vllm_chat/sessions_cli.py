"""`vllm-chat sessions list | export | delete`: saved sessions from the command line."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.export import ExportFormat
    from vllm_chat.core.store import SessionStore


def build_parser() -> argparse.ArgumentParser:
    """The parser for `vllm-chat sessions ...`."""
    p = argparse.ArgumentParser(prog="vllm-chat sessions", description="Saved sessions.")
    sub = p.add_subparsers(dest="command", required=True)
    ls = sub.add_parser("list", help="id, last update, title, model and message count, newest first")
    ls.add_argument("--json", action="store_true", help="one JSON array (unreadable files included)")
    ex = sub.add_parser("export", help="write a session as Markdown or JSON")
    ex.add_argument("id", help="session id or a unique prefix of it")
    ex.add_argument("--format", choices=["md", "json"], help="default: from the -o suffix, else md")
    ex.add_argument("-o", "--output", help="file to write (default: stdout)")
    rm = sub.add_parser("delete", help="delete a session file")
    rm.add_argument("id", help="session id or a unique prefix of it")
    return p


def _when(ts: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))


def sessions_main(argv: list[str]) -> int:
    """Run a `sessions` subcommand; returns the exit status."""
    args = build_parser().parse_args(argv)
    from vllm_chat.core.store import SessionStore, StoreError

    store = SessionStore()
    try:
        if args.command == "list":
            return _list(store, args.json)
        session_id = store.resolve(args.id)
        if args.command == "export":
            return _export(store, session_id, args.format, args.output)
        store.delete(session_id)
        print(f"deleted {session_id}")
        return 0
    except StoreError as exc:
        print(f"vllm-chat: {exc}", file=sys.stderr)
        return 1


def _list(store: SessionStore, as_json: bool) -> int:
    summaries, unreadable = store.list()
    if as_json:
        doc = [
            {"id": s.id, "title": s.title, "model": s.model, "created_at": s.created_at,
             "updated_at": s.updated_at, "messages": s.message_count}
            for s in summaries
        ] + [{"path": str(u.path), "unreadable": u.reason} for u in unreadable]
        print(json.dumps(doc, ensure_ascii=False, indent=2))
        return 0
    if not summaries and not unreadable:
        print("No saved sessions yet.")
        return 0
    for s in summaries:
        print(f"{s.id[:12]}  {_when(s.updated_at)}  {s.message_count:>4} msgs  {s.model or '-':<24.24}  {s.title}")
    for u in unreadable:
        print(f"unreadable: {u.path}: {u.reason}", file=sys.stderr)
    return 0


def _export(store: SessionStore, session_id: str, fmt: ExportFormat | None, output: str | None) -> int:
    from vllm_chat.core.export import export, to_json, to_markdown

    conv = store.load(session_id)
    if output is None:
        sys.stdout.write(to_json(conv) if fmt == "json" else to_markdown(conv))
        return 0
    path = Path(output).expanduser()
    export(conv, path, fmt)
    print(f"wrote {path}")
    return 0
