"""Benchmark: listing, searching and saving with many sessions (10,000 by default).

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_session_list.py [--sessions 10000] [--messages 50]
        [--data DIR] [--rebuild-index]

The sessions are generated once into `--data` (default: a folder in /tmp named
after the size, reused by later runs and by `bench_session_browser.py`; it
takes a few minutes for 10,000 sessions, ~640 MB). Then it prints medians of
several runs, each with its floor measured in the same run:

- listing: the floor is a bare `os.scandir` + `stat` of the folder; then a
  listing at app start (a new `SessionStore`, index on disk), again in the same
  store, after another process changed one session, and with no index (one-off);
- search (the full-text index `.search/index.sqlite` existing): the floor is the bare
  SQLite FTS5 query alone (no check of the folder, no snippets); then
  `SessionStore.search` for a rare word, a common one, two words, the text-only
  switch, no match, in a new store (as `sessions search` does in a fresh
  process), and after one session changed (re-indexed first). The first search
  ever (building the index) is timed once, when there is no index yet or with
  `--rebuild-index`;
- saving one session (fsync).

Targets (issue 18): a search answers in under 200 ms once the index exists.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vllm_chat.core.conversation import Conversation, Message, Timings, ToolCall, Usage
from vllm_chat.core.store import INDEX_NAME, SessionStore
from vllm_chat.core.store.search import INDEX_FILE

WORDS = (
    "the model server token stream reply latency vllm prompt cache batch kernel memory "
    "python rust request tool result image attention layer weights quantized context "
    "window schedule throughput sampling temperature answer question because however"
).split()

MARKER = ".bench-filled"
"""Written into a data folder once it is filled: `<sessions> <messages>`."""


def sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


def make_conversation(rng: random.Random, n: int, messages: int) -> Conversation:
    """A plausible session: prompts of a few sentences, longer replies, some reasoning and tools."""
    conv = Conversation(
        title=f"Session {n}: {sentence(rng, 5)}",
        model="Qwen/Qwen3-8B",
        base_url="http://localhost:8000/v1",
        created_at=1_700_000_000 + n * 600,
        updated_at=1_700_000_000 + n * 600 + rng.randint(0, 500),
    )
    for i in range(messages):
        if i % 2 == 0:
            conv.messages.append(Message(role="user", content=" ".join(sentence(rng, 12) for _ in range(3))))
        else:
            reply = Message(
                role="assistant",
                content="\n\n".join(" ".join(sentence(rng, 15) for _ in range(4)) for _ in range(3)),
                reasoning=sentence(rng, 40) if i % 4 == 1 else None,
                usage=Usage(prompt_tokens=500 + i * 100, completion_tokens=250),
                timings=Timings(started_at=conv.created_at + i, ttft=0.2, duration=4.0),
                finish_reason="stop",
                model=conv.model,
            )
            if i % 10 == 1:
                reply.tool_calls = [ToolCall(id=f"chatcmpl-tool-{n:08x}{i:08x}", name="calculator",
                                             arguments='{"expression": "2+2"}')]
            conv.messages.append(reply)
    if n % 97 == 0:
        conv.messages[-1].content += " The secret word is zanzibar."
    if n % 101 == 0:
        conv.messages[-2].reasoning = "Thinking of a platypus."
    return conv


def default_data(sessions: int, messages: int) -> Path:
    return Path(tempfile.gettempdir()) / f"vllm-chat-bench-sessions-{sessions}x{messages}"


def fill(root: Path, sessions: int, messages: int) -> None:
    """Generate the sessions into `root` unless a previous run did (see `MARKER`)."""
    marker = root / MARKER
    wanted = f"{sessions} {messages}"
    if marker.exists() and marker.read_text().strip() == wanted:
        return
    if root.exists():
        shutil.rmtree(root)
    store = SessionStore(root)
    rng = random.Random(1)
    start = time.perf_counter()
    print(f"writing {sessions} sessions of {messages} messages to {root} (once; reused later) ...", flush=True)
    for n in range(sessions):
        store.save(make_conversation(rng, n, messages))
        if (n + 1) % 1000 == 0:
            print(f"  {n + 1} written, {time.perf_counter() - start:.0f} s", flush=True)
    marker.write_text(wanted)


def median_ms(fn: Callable[[], object], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def bare_scan(root: Path) -> int:
    count = 0
    with os.scandir(root) as entries:
        for entry in entries:
            if entry.name.endswith(".json"):
                entry.stat()
                count += 1
    return count


def bare_fts(root: Path, match: str) -> int:
    conn = sqlite3.connect(root / INDEX_FILE)
    try:
        rows = conn.execute("SELECT rowid, bm25(fts, 10.0, 1.0, 0.5) AS r FROM fts WHERE fts MATCH ? "
                            "ORDER BY r LIMIT 20", (match,)).fetchall()
    finally:
        conn.close()
    return len(rows)


def _stale_format(index_path: Path) -> bool:
    from vllm_chat.core.store import search

    try:
        conn = sqlite3.connect(index_path)
        row = conn.execute("SELECT value FROM meta WHERE key = 'format'").fetchone()
        conn.close()
    except sqlite3.Error:
        return True
    return row is None or row[0] != search._FORMAT


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10000)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--data", type=Path, help="folder of generated sessions (made once, then reused)")
    parser.add_argument("--rebuild-index", action="store_true", help="time building the search index again")
    args = parser.parse_args()

    root = args.data or default_data(args.sessions, args.messages)
    fill(root, args.sessions, args.messages)
    scratch = Path(tempfile.mkdtemp(prefix="vllm-chat-bench-save-"))
    try:
        store = SessionStore(root)
        sizes = [p.stat().st_size for p in root.glob("*.json") if not p.name.startswith(".")]
        print(f"{len(sizes)} sessions, {sum(sizes) / 1e6:.0f} MB, median file {statistics.median(sizes) / 1e3:.0f} KB")
        summaries, unreadable = store.list()
        assert len(summaries) == args.sessions and not unreadable, (len(summaries), len(unreadable))
        runs = args.runs
        rng = random.Random(2)

        floor = median_ms(lambda: bare_scan(root), runs)
        at_start = median_ms(lambda: SessionStore(root).list(), runs)
        same_store = median_ms(store.list, runs)

        def touch_one() -> None:
            other = SessionStore(root)
            conv = other.load(summaries[rng.randrange(len(summaries))].id)
            conv.title = conv.title.rstrip("!") + "!"
            other.save(conv)

        changes = []
        for _ in range(runs):
            touch_one()
            start = time.perf_counter()
            store.list()
            changes.append((time.perf_counter() - start) * 1000)
        changed = statistics.median(changes)

        def rebuild() -> None:
            (root / INDEX_NAME).unlink()
            SessionStore(root).list()

        rebuilt = median_ms(rebuild, 1)

        index_path = root / INDEX_FILE
        built = None
        if args.rebuild_index or not index_path.exists() or _stale_format(index_path):
            for suffix in ("", "-wal", "-shm"):
                Path(f"{index_path}{suffix}").unlink(missing_ok=True)
            start = time.perf_counter()
            store.search("zanzibar")
            built = time.perf_counter() - start
        store.search("zanzibar")  # the index is up to date from here on
        fts_floor = median_ms(lambda: bare_fts(root, '"zanzibar"*'), runs)
        fts_floor_common = median_ms(lambda: bare_fts(root, '"kernel"*'), runs)
        rare = median_ms(lambda: store.search("zanzibar", limit=20), runs)
        common = median_ms(lambda: store.search("kernel", limit=20), runs)
        two = median_ms(lambda: store.search("attention kernel", limit=20), runs)
        text_only = median_ms(lambda: store.search("platypus", everywhere=False, limit=20), runs)
        reasoning = median_ms(lambda: store.search("platypus", limit=20), runs)
        none = median_ms(lambda: store.search("xylophone", limit=20), runs)
        browser = median_ms(lambda: store.search("zanzibar", limit=50), runs)
        fresh = median_ms(lambda: SessionStore(root).search("zanzibar", limit=20), runs)

        after_changes = []
        for _ in range(runs):
            touch_one()  # another process saves one session; only the search after it is timed
            start = time.perf_counter()
            store.search("zanzibar", limit=20)
            after_changes.append((time.perf_counter() - start) * 1000)
        after_change = statistics.median(after_changes)
        hits = len(store.search("zanzibar", limit=1000))
        index_mb = sum(Path(f"{index_path}{s}").stat().st_size for s in ("", "-wal")
                       if Path(f"{index_path}{s}").exists()) / 1e6

        save_store = SessionStore(scratch / "sessions")
        save_conv = make_conversation(rng, 1, args.messages)
        save_ms = median_ms(lambda: save_store.save(save_conv), runs)

        n = f"{args.sessions} sessions x {args.messages} messages"
        print(f"\nmedians of {runs} runs ({n}; machine load {os.getloadavg()[0]:.2f}):")
        print(f"  floor: bare os.scandir + stat           {floor:8.1f} ms")
        print(f"  list at app start (new store, index)    {at_start:8.1f} ms   {at_start / floor:5.1f}x floor")
        print(f"  list again (same store)                 {same_store:8.1f} ms   {same_store / floor:5.1f}x floor")
        print(f"  list after another process saved one    {changed:8.1f} ms")
        print(f"  list with no index (rebuild, one run)   {rebuilt:8.1f} ms")
        if built is not None:
            print(f"  first search: build the index (once)    {built:8.1f} s")
        print(f"  search index size                       {index_mb:8.1f} MB")
        print(f"  floor: bare FTS5 query, rare word       {fts_floor:8.1f} ms")
        print(f"  floor: bare FTS5 query, common word     {fts_floor_common:8.1f} ms")
        print(f"  search a rare word ({hits} sessions)     {rare:8.1f} ms")
        print(f"  search a common word (top 20)           {common:8.1f} ms")
        print(f"  search two words                        {two:8.1f} ms")
        print(f"  search a word in reasoning              {reasoning:8.1f} ms")
        print(f"  same, text only (not found)             {text_only:8.1f} ms")
        print(f"  search, no match                        {none:8.1f} ms")
        print(f"  search, 50 hits with snippets (browser) {browser:8.1f} ms")
        print(f"  search in a new store (as the CLI)      {fresh:8.1f} ms")
        print(f"  search after another process saved one  {after_change:8.1f} ms")
        print(f"  save one {args.messages}-message session (fsync)   {save_ms:8.2f} ms")
        worst = max(rare, common, two, reasoning, text_only, none, fresh, after_change)
        print(f"\ntarget (search < 200 ms once indexed): {'met' if worst < 200 else 'MISSED'} "
              f"(slowest kind: {worst:.0f} ms)")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
