"""Benchmark: how fast the session list, search and a save are with many sessions.

Not a test (timings depend on the machine). Run:

    /work/venv/bin/python bench/bench_session_list.py [--sessions 2000] [--messages 50]

It fills a temporary sessions folder, then prints the median of several runs
for: the floor (a bare `os.scandir` + `stat` of the folder), listing at app
start (a new `SessionStore`, index on disk), listing again in the same store,
listing after another process changed one session, listing with no index
(rebuild), searching, and saving one session. The target is a list ready in
under 300 ms for 2,000 sessions of 50 messages.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from vllm_chat.core.conversation import Conversation, Message, Timings, ToolCall, Usage
from vllm_chat.core.store import INDEX_NAME, SessionStore

WORDS = (
    "the model server token stream reply latency vllm prompt cache batch kernel memory "
    "python rust request tool result image attention layer weights quantized context "
    "window schedule throughput sampling temperature answer question because however"
).split()


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
    return conv


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=2000)
    parser.add_argument("--messages", type=int, default=50)
    parser.add_argument("--runs", type=int, default=9)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vllm-chat-bench-"))
    try:
        root = tmp / "sessions"
        store = SessionStore(root)
        rng = random.Random(1)
        print(f"writing {args.sessions} sessions of {args.messages} messages to {root} ...")
        convs = [make_conversation(rng, n, args.messages) for n in range(args.sessions)]
        save_times = []
        for conv in convs:
            start = time.perf_counter()
            store.save(conv)
            save_times.append((time.perf_counter() - start) * 1000)
        sizes = [p.stat().st_size for p in root.glob("*.json")]
        print(f"  {sum(sizes) / 1e6:.1f} MB, median file {statistics.median(sizes) / 1e3:.0f} KB")
        summaries, unreadable = store.list()
        assert len(summaries) == args.sessions and not unreadable

        runs = args.runs
        floor = median_ms(lambda: bare_scan(root), runs)
        at_start = median_ms(lambda: SessionStore(root).list(), runs)
        same_store = median_ms(store.list, runs)

        def after_outside_change() -> None:
            other = SessionStore(root)
            conv = convs[rng.randrange(len(convs))]
            conv.title += "!"
            other.save(conv)
            store.list()

        changed = median_ms(after_outside_change, runs)

        def rebuild() -> None:
            (root / INDEX_NAME).unlink()
            SessionStore(root).list()

        rebuilt = median_ms(rebuild, max(3, runs // 3))
        search_rare = median_ms(lambda: store.search("zanzibar"), max(3, runs // 3))
        search_none = median_ms(lambda: store.search("no such phrase anywhere"), max(3, runs // 3))
        search_title = median_ms(lambda: store.search("session 1", limit=20), runs)
        hits = len(store.search("zanzibar"))

        print(f"\nmedians of {runs} runs ({args.sessions} sessions x {args.messages} messages):")
        print(f"  floor: bare os.scandir + stat           {floor:8.1f} ms")
        print(f"  list at app start (new store, index)    {at_start:8.1f} ms   {at_start / floor:5.1f}x floor")
        print(f"  list again (same store)                 {same_store:8.1f} ms   {same_store / floor:5.1f}x floor")
        print(f"  list after another process saved one    {changed:8.1f} ms")
        print(f"  list with no index (rebuild, one-off)   {rebuilt:8.1f} ms")
        print(f"  search, word in {hits} sessions            {search_rare:8.1f} ms")
        print(f"  search, no match                        {search_none:8.1f} ms")
        print(f"  search, title match, limit 20           {search_title:8.1f} ms")
        print(f"  save one {args.messages}-message session (fsync)   {statistics.median(save_times):8.2f} ms")
        target = "met" if at_start < 300 else "MISSED"
        print(f"\ntarget (list < 300 ms at app start): {target}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
