"""`vllm-chat sessions list | search | export | fork | delete`: saved sessions from the command line.

This front end works on the sessions folder alone (no server, model or tools),
so it uses the store's API (`vllm_chat.core.store`) and starts in a fraction
of the time a `ChatSession` takes. Titles, model ids and messages come from
models, servers and files anyone may have edited: listings and messages go
through `message_text` / `one_line` (always inert, no credentials), JSON
through `json_text` (C1 controls escaped too) or ASCII-only `json.dumps`, and
an export to stdout through `terminal_safe` (inert on a terminal, exact into a
pipe or file), so nothing in a session can act on the terminal.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from vllm_chat.core.text import json_text, message_text, one_line, terminal_safe

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.export import ExportFormat
    from vllm_chat.core.store import SessionStore


def build_parser() -> argparse.ArgumentParser:
    """The parser for `vllm-chat sessions ...`."""
    p = argparse.ArgumentParser(prog="vllm-chat sessions", description="Saved sessions.")
    sub = p.add_subparsers(dest="command", required=True)
    columns = "id, last update, message count, model and title, newest first"  # as `_list` prints them
    ls = sub.add_parser("list", help=columns, description=f"One line per saved session: {columns}.")
    ls.add_argument("--json", action="store_true", help="one JSON array (unreadable files included)")
    se = sub.add_parser("search", help="sessions holding every word of QUERY, best first, with a snippet")
    se.add_argument("query", help="words to find (a word typed halfway matches too)")
    se.add_argument("--json", action="store_true", help="one JSON array: id, title, snippet, where, ...")
    se.add_argument("--text-only", action="store_true",
                    help="only what was said: skip reasoning and tool calls and results")
    se.add_argument("--limit", type=int, default=20, help="at most this many sessions (default 20)")
    ex = sub.add_parser("export", help="write a session as Markdown or JSON")
    ex.add_argument("id", help="session id or a unique prefix of it")
    ex.add_argument("--format", choices=["md", "json"], help="default: from the -o suffix, else md")
    ex.add_argument("-o", "--output", help="file to write (default: stdout)")
    fk = sub.add_parser("fork", help="start a new session holding a session's conversation (up to a point)")
    fk.add_argument("id", help="session id or a unique prefix of it")
    fk.add_argument("--at", type=int, metavar="N", help="keep the first N messages (default: all)")
    fk.add_argument("--json", action="store_true", help="print the new session as JSON (session_id, ...)")
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
        if args.command == "search":
            return _search(store, args.query, as_json=args.json, everywhere=not args.text_only,
                           limit=args.limit)
        session_id = store.resolve(args.id)
        if args.command == "export":
            return _export(store, session_id, args.format, args.output)
        if args.command == "fork":
            return _fork(store, session_id, args.at, args.json)
        store.delete(session_id)
        print(f"deleted {message_text(session_id)}")
        return 0
    except StoreError as exc:
        print(f"vllm-chat: {message_text(str(exc))}", file=sys.stderr)
        return 1


def _list(store: SessionStore, as_json: bool) -> int:
    summaries, unreadable = store.list()
    if as_json:
        doc = [
            {"id": s.id, "title": s.title, "model": s.model, "created_at": s.created_at,
             "updated_at": s.updated_at, "messages": s.message_count}
            for s in summaries
        ] + [{"path": str(u.path), "unreadable": u.reason} for u in unreadable]
        print(json_text(doc, indent=2))
        return 0
    if not summaries and not unreadable:
        print("No saved sessions yet.")
        return 0
    for s in summaries:
        model = one_line(s.model or "-")
        print(f"{one_line(s.id[:12])}  {_when(s.updated_at)}  {s.message_count:>4} msgs  {model:<24.24}  "
              f"{one_line(s.title)}")
    for u in unreadable:
        print(f"unreadable: {one_line(str(u.path))}: {one_line(u.reason)}", file=sys.stderr)
    return 0


def _search(store: SessionStore, query: str, *, as_json: bool, everywhere: bool, limit: int) -> int:
    from vllm_chat.core.store.search import INDEX_FILE, query_words
    from vllm_chat.core.text import inert

    if not query_words(query):
        print("vllm-chat: give at least one word to search for", file=sys.stderr)
        return 2
    if not (store.root / INDEX_FILE).exists():
        print("vllm-chat: building the search index first (once; with thousands of sessions this takes "
              "a while)", file=sys.stderr)
    hits = store.search(query, everywhere=everywhere, limit=max(1, limit))
    if as_json:
        doc = [{"id": h.summary.id, "title": h.summary.title, "snippet": h.snippet.text, "where": h.where,
                "model": h.summary.model, "updated_at": h.summary.updated_at, "score": round(h.score, 4)}
               for h in hits]
        print(json.dumps(doc, indent=2))  # ASCII only: nothing in a session reaches the terminal raw
        return 0
    if not hits:
        print(f"No session matches {inert(query)!r}.")
        return 0
    bold = sys.stdout.isatty()
    for hit in hits:
        s = hit.summary
        print(f"{one_line(s.id[:12])}  {_when(s.updated_at)}  {_flat(inert(s.title))}")
        print(f"{'':14}{hit.where}: {_marked(hit.snippet.text, hit.snippet.marks, bold)}")
    return 0


def _flat(text: str) -> str:
    return " ".join(text.split())


def _marked(text: str, marks: tuple[tuple[int, int], ...], bold: bool) -> str:
    """The snippet (already inert) with its hits in bold on a terminal."""
    if not bold:
        return text
    out, at = [], 0
    for start, end in marks:
        out += [text[at:start], "\x1b[1m", text[start:end], "\x1b[22m"]
        at = end
    out.append(text[at:])
    return "".join(out)


def _fork(store: SessionStore, session_id: str, at: int | None, as_json: bool) -> int:
    from vllm_chat.core.text import inert

    fork = store.fork(session_id, at)
    kept = len(fork.messages)
    if as_json:
        print(json.dumps({"session_id": fork.id, "forked_from": session_id, "messages": kept,
                          "title": fork.title, "path": str(store.path_for(fork.id))}, indent=2))
        return 0
    print(f"forked {one_line(session_id[:12])} into {fork.id} ({kept} messages): {_flat(inert(fork.title))}")
    print(f"continue it with: vllm-chat --resume {fork.id}")
    return 0


def _export(store: SessionStore, session_id: str, fmt: ExportFormat | None, output: str | None) -> int:
    from vllm_chat.core.export import export, to_json, to_markdown

    conv = store.load(session_id)
    if output is None:
        text = to_json(conv) if fmt == "json" else to_markdown(conv)
        sys.stdout.write(terminal_safe(text, sys.stdout))
        return 0
    path = Path(output).expanduser()
    export(conv, path, fmt)
    print(f"wrote {message_text(str(path))}")
    return 0
