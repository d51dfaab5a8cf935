"""Many writers at once, for real: several processes saving, deleting and listing sessions in
one folder, two windows (processes driving `ChatSession`) on one session, and loops of the
installed `vllm-chat -p --save` against `vllm-chat-sim` while `sessions delete` runs. Nothing
is lost, the list stays whole, and a writer that can't get the lock says so clearly."""

from __future__ import annotations

import asyncio
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.conftest import TEST_API_KEY
from tests.support.cli import run_vllm_chat
from tests.support.tmux import installed_command
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.recorder import SessionRecorder
from vllm_chat.core.store import INDEX_NAME, SessionStore, StoreLocked
from vllm_chat.core.store.listing import read_index
from vllm_chat.simserver import SimConfig, SimServer

WORKER = r"""
import json, random, sys, time
from pathlib import Path
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.store import SessionStore

root, wid, rounds, shared = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
rng = random.Random(wid)
store = SessionStore(root)
window = store.load(shared)            # this process's window on the shared session
kept, deleted = [], []
for i in range(rounds):
    conv = Conversation(title=f"{wid}-{i}")
    conv.add(Message(role="user", content=f"{wid} says {i}"))
    store.save(conv)
    conv.add(Message(role="assistant", content=f"reply {wid} {i}"))
    store.save(conv)
    kept.append(conv.id)
    if i % 3 == 2:
        victim = kept.pop(rng.randrange(len(kept)))
        store.delete(victim)
        deleted.append(victim)
    window.add(Message(role="user", content=f"shared {wid} {i}"))
    store.save(window)
    store.list()
    time.sleep(rng.random() / 100)
print(json.dumps({"kept": kept, "deleted": deleted}))
"""


def run_workers(script: str, args_list: list[list[str]], timeout: float = 240) -> list[str]:
    procs = [subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, env=os.environ.copy())
             for args in args_list]
    outputs = []
    for proc in procs:
        out, err = proc.communicate(timeout=timeout)
        assert proc.returncode == 0, err
        outputs.append(out)
    return outputs


def texts(conv: Conversation) -> set[str]:
    return {m.content for m in (*conv.messages, *conv.aside)}


def test_many_processes_saving_and_deleting_never_lose_a_session_or_break_the_list(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    shared = Conversation(title="shared")
    shared.add(Message(role="user", content="start"))
    SessionStore(root).save(shared)
    workers, rounds = 4, 15
    outputs = run_workers(WORKER, [[str(root), f"w{n}", str(rounds), shared.id] for n in range(workers)])
    kept = {i for out in outputs for i in json.loads(out)["kept"]}
    deleted = {i for out in outputs for i in json.loads(out)["deleted"]}
    assert len(kept) + len(deleted) == workers * rounds
    summaries, unreadable = SessionStore(root).list()
    assert unreadable == []
    assert {s.id for s in summaries} == kept | {shared.id}, "every session that wasn't deleted is listed"
    assert set(read_index(root / INDEX_NAME)) <= {f"{i}.json" for i in kept | deleted | {shared.id}}, \
        "the index is whole (every line parses) and names only sessions"
    for summary in summaries:
        if summary.id != shared.id:
            assert summary.message_count == 2, "each session has both its saves"
    together = SessionStore(root).load(shared.id)
    expected = {"start"} | {f"shared w{n} {i}" for n in range(workers) for i in range(rounds)}
    assert texts(together) == expected, "no window lost a message on the shared session"


SEARCHER = r"""
import sys
from pathlib import Path
from vllm_chat.core.store import SessionStore, search
search._RACY = 0.0  # trust the folder's clock at once: the change log is followed as often as it can be
store = SessionStore(Path(sys.argv[1]))
for _ in range(int(sys.argv[2])):
    store.search("says")
"""


def test_searches_while_processes_save_and_delete_end_with_exactly_the_sessions_kept(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_chat.core.store import search

    monkeypatch.setattr(search, "_RACY", 0.0)
    root = tmp_path / "sessions"
    shared = Conversation(title="shared")
    shared.add(Message(role="user", content="start"))
    store = SessionStore(root)
    store.save(shared)
    assert store.search("says") == []  # the index and its change log exist before the writers start
    searchers = [subprocess.Popen([sys.executable, "-c", SEARCHER, str(root), "40"], env=os.environ.copy())
                 for _ in range(2)]
    outputs = run_workers(WORKER, [[str(root), f"w{n}", "15", shared.id] for n in range(4)])
    for proc in searchers:
        assert proc.wait(timeout=240) == 0
    kept = {i for out in outputs for i in json.loads(out)["kept"]}
    assert store.search("w3 says 14", limit=1000), "the last save of the last writer is found"
    found = {hit.summary.id for hit in store.search("says", limit=1000)}
    assert found == kept, "every kept session is found, no deleted one"
    assert {hit.summary.id for hit in SessionStore(root).search("says", limit=1000)} == found


WINDOW = r"""
import asyncio, sys
from vllm_chat.core.config import load_settings
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore

url, key, session_id, tag, turns = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])

async def main():
    store = SessionStore()
    chat = ChatSession(load_settings({"base_url": url, "api_key": key}), conversation=store.load(session_id),
                       store=store)
    await chat.connect()
    for i in range(turns):
        chat.add_user_message(f"echo {tag} prompt {i}")
        async for _ in chat.run():
            pass
    await chat.aclose()
    notices = [o.notice for o in chat.take_save_outcomes()]
    print(chat.conversation.id, len(notices))

asyncio.run(main())
"""


async def test_two_windows_chatting_on_one_session_lose_no_message() -> None:
    async with SimServer(SimConfig(tps=0.0, models=("sim-chat",), api_key=TEST_API_KEY)) as server:
        start = Conversation(title="two windows", model="sim-chat")
        start.add(Message(role="user", content="hello"))
        start.add(Message(role="assistant", content="hi"))
        SessionStore().save(start)
        turns = 6
        procs = [await asyncio.create_subprocess_exec(
            sys.executable, "-c", WINDOW, server.base_url, TEST_API_KEY, start.id, tag, str(turns),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE) for tag in ("left", "right")]
        results = [await asyncio.wait_for(p.communicate(), 180) for p in procs]
    for proc, (out, err) in zip(procs, results, strict=True):
        assert proc.returncode == 0, err.decode()
        assert out.split()[0].decode() == start.id, "appends merge: no window had to fork"
    conv = SessionStore().load(start.id)
    every = texts(conv)
    for tag in ("left", "right"):
        for i in range(turns):
            assert f"echo {tag} prompt {i}" in every
            assert f"{tag} prompt {i}" in every, "and the reply to it"
    assert [m.content for m in conv.messages[:2]] == ["hello", "hi"]


def vllm_chat(*args: str, env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat(*args, env=env, timeout=timeout)


@pytest.fixture
def sim_process() -> str:
    process = subprocess.Popen([installed_command("vllm-chat-sim"), "--port", "0", "--model", "sim-chat"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = process.stdout.readline() if process.stdout else ""
    match = re.search(r"at (http://127\.0\.0\.1:\d+/v1)", line)
    assert match, line
    yield match.group(1)
    process.kill()
    process.communicate(timeout=10)


def test_parallel_one_shot_saves_with_deletes_meanwhile_keep_every_session(sim_process: str) -> None:
    env = {**os.environ, "VLLM_CHAT_BASE_URL": sim_process, "VLLM_CHAT_MODEL": "sim-chat"}
    shared = Conversation(title="resumed by many", model="sim-chat")
    shared.add(Message(role="user", content="first"))
    SessionStore().save(shared)
    made: dict[int, list[str]] = {}
    errors: list[str] = []
    loops, runs = 3, 3  # 9 new sessions, 6 resumed turns, a delete, all at once

    def new_sessions(loop: int) -> None:
        made[loop] = []
        for i in range(runs):
            result = vllm_chat("-p", f"loop {loop} run {i}", "--save", "--json", env=env)
            if result.returncode != 0:
                errors.append(result.stderr)
                continue
            made[loop].append(json.loads(result.stdout)["session_id"])

    def resume(loop: int) -> None:
        for i in range(runs):
            result = vllm_chat("--resume", shared.id, "-p", f"resumed {loop} {i}", "--save", env=env)
            if result.returncode != 0:
                errors.append(result.stderr)

    deleted: list[str] = []

    def delete_meanwhile() -> None:
        # Deletes loop 0's sessions as they appear, while the other loops still save.
        while len(deleted) < runs // 2 and len(made.get(0, [])) + len(errors) < runs + 1:
            victims = [i for i in made.get(0, []) if i not in deleted]
            if not victims:
                threading.Event().wait(0.2)
                continue
            result = vllm_chat("sessions", "delete", victims[0], env=env)
            if result.returncode == 0:
                deleted.append(victims[0])
            else:
                errors.append(result.stderr)

    threads = [threading.Thread(target=new_sessions, args=(k,)) for k in range(loops)]
    threads += [threading.Thread(target=resume, args=(k,)) for k in range(2)]
    threads.append(threading.Thread(target=delete_meanwhile))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=600)
    assert errors == []
    created = {i for ids in made.values() for i in ids}
    assert len(created) == loops * runs
    listed = vllm_chat("sessions", "list", "--json", env=env)
    entries = json.loads(listed.stdout)
    assert [e for e in entries if "unreadable" in e] == []
    assert {e["id"] for e in entries} == (created - set(deleted)) | {shared.id}
    conv = SessionStore().load(shared.id)
    every = texts(conv)
    assert {f"resumed {k} {i}" for k in range(2) for i in range(runs)} <= every, "every resumed prompt is kept"


HOLDER = r"""
import sys, time
from pathlib import Path
from vllm_chat.core.store.files import FolderLock
with FolderLock(Path(sys.argv[1])).held():
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_a_writer_that_cant_get_the_lock_says_so_and_loses_nothing(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    root.mkdir()
    store = SessionStore(root, lock_timeout=0.3)
    conv = Conversation()
    conv.add(Message(role="user", content="typed while another vllm-chat was stuck"))
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(root), "30"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        with pytest.raises(StoreLocked) as info:
            store.save(conv)
        message = str(info.value)
        assert "another vllm-chat" in message and str(root / ".lock") in message and "0.3 s" in message
        recorder = SessionRecorder(store, conv)
        assert recorder.save_now() is False
        assert isinstance(recorder.last_error, StoreLocked), "the session reports it, and keeps going"
    finally:
        holder.kill()
        holder.wait(timeout=10)
    assert recorder.save_now() is True
    assert SessionStore(root).load(conv.id).messages[0].content == "typed while another vllm-chat was stuck"
