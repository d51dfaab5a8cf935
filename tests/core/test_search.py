"""Searching saved sessions: every word of the query anywhere (reasoning and tool results too,
or not), ranked, with a snippet around the hit; the full-text index is derived from the files,
kept up to date with them, and rebuilt when it is missing or broken."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from vllm_chat.core import tree
from vllm_chat.core.conversation import Conversation, Message, ToolCall
from vllm_chat.core.paths import ensure_private_dir
from vllm_chat.core.store import SessionStore, session_json
from vllm_chat.core.store.search import INDEX_FILE, cut_snippet, query_words


@pytest.fixture
def store(tmp_path: Path) -> SessionStore:
    """A store whose folder exists (as after a first save)."""
    s = SessionStore(tmp_path / "sessions")
    ensure_private_dir(s.root)
    return s


def saved(store: SessionStore, title: str, *texts: str, updated_at: float = 1.0) -> Conversation:
    conv = Conversation(title=title, model="m", updated_at=updated_at)
    for i, text in enumerate(texts):
        conv.messages.append(Message(role="user" if i % 2 == 0 else "assistant", content=text))
    store.save(conv)
    return conv


def copy_in(store: SessionStore, session_id: str, title: str) -> None:
    """A session file written by another program (not vllm-chat: nothing in the change log)."""
    (store.root / f"{session_id}.json").write_text(session_json(Conversation(title=title, model="m")))
    # Its folder change, made certain to differ from the last one even within one clock tick.
    st = store.root.stat()
    os.utime(store.root, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def ids(hits) -> list[str]:
    return [h.summary.id for h in hits]


def marked(hit) -> list[str]:
    return [hit.snippet.text[s:e] for s, e in hit.snippet.marks]


def test_every_word_is_found_in_titles_and_messages_ignoring_case_and_accents(store: SessionStore) -> None:
    rust = saved(store, "Rust lifetimes", "borrow checker woes", "use a reference")
    eggs = saved(store, "Cooking", "How long to boil an egg?", "About nine minutes.")
    mixed = saved(store, "Misc", "Ünïcödé and RUST together", "fine")
    assert set(ids(store.search("rust"))) == {rust.id, mixed.id}
    assert ids(store.search("BOIL AN")) == [eggs.id]
    assert ids(store.search("nine minutes")) == [eggs.id], "replies too"
    assert ids(store.search("unicode")) == [mixed.id], "accents don't matter"
    assert ids(store.search("boil rust")) == [], "every word must be there"
    assert store.search("nowhere to be found") == []
    assert store.search("   ") == [] and store.search("?!") == []
    assert len(store.search("rust", limit=1)) == 1


def test_a_word_typed_halfway_already_matches(store: SessionStore) -> None:
    conv = saved(store, "t", "paged attention kernels")
    assert ids(store.search("kern")) == [conv.id]
    assert ids(store.search("atten kern")) == [conv.id]


def test_hits_are_ranked_title_first_then_by_how_much_they_say(store: SessionStore) -> None:
    once = saved(store, "Notes", "we talked about vllm once", updated_at=3.0)
    often = saved(store, "Chat", "vllm vllm vllm, all about vllm", updated_at=2.0)
    titled = saved(store, "vLLM tuning", "nothing else here", updated_at=1.0)
    assert ids(store.search("vllm")) == [titled.id, often.id, once.id]


def test_reasoning_tool_calls_and_tool_results_are_found_unless_switched_off(store: SessionStore) -> None:
    conv = Conversation(title="tools")
    call = ToolCall(id="c1", name="weather_lookup", arguments='{"city": "Timbuktu"}')
    conv.messages = [
        Message(role="user", content="what is it like outside"),
        Message(role="assistant", reasoning="I should consult the barometer", tool_calls=[call]),
        Message(role="tool", tool_call_id="c1", content="sunny with zephyrs"),
        Message(role="assistant", content="Nice out."),
    ]
    store.save(conv)
    for query, where in [("barometer", "reasoning"), ("zephyrs", "tool result"), ("timbuktu", "tool call")]:
        [hit] = store.search(query)
        assert hit.where == where
        assert store.search(query, everywhere=False) == []
    [hit] = store.search("outside", everywhere=False)
    assert hit.where == "prompt"


def test_files_mentioned_with_at_path_are_searched_with_the_extras(store: SessionStore) -> None:
    from vllm_chat.core.conversation import ContextFile

    conv = Conversation(title="t")
    conv.messages = [Message(role="user", content="review this",
                             files=[ContextFile(path="notes.txt", text="the quetzal migrates", size=20)])]
    store.save(conv)
    [hit] = store.search("quetzal")
    assert hit.where == "mentioned file" and hit.snippet.text == "the quetzal migrates"
    assert store.search("quetzal", everywhere=False) == []


def test_other_versions_are_searched_too_and_say_so(store: SessionStore) -> None:
    conv = saved(store, "t", "q", "the answer shown")
    tree.add_alternatives(conv, conv.messages[1].id, [[Message(role="assistant", content="an older zucchini")]])
    store.save(conv)
    [hit] = store.search("zucchini")
    assert hit.where == "reply (another version)"


def test_a_snippet_is_one_safe_line_around_the_hit_with_the_words_marked(store: SessionStore) -> None:
    long_before = "word " * 200
    conv = saved(store, "t", long_before + "the \x1b[31m particular\x1b[0m\nneedle we want\t" + "tail " * 200)
    [hit] = store.search("needle particular")
    text = hit.snippet.text
    assert "\n" not in text and "\x1b" not in text and "␛" in text
    assert text.startswith("…") and text.endswith("…") and len(text) <= 125
    assert marked(hit) == ["particular", "needle"]
    assert hit.summary.id == conv.id and hit.where == "prompt"


def test_cut_snippet_marks_every_word_that_starts_with_a_query_word() -> None:
    snippet = cut_snippet("Kernels and kernel fusion; KERNEL!", query_words("kern"))
    assert [snippet.text[s:e] for s, e in snippet.marks] == ["Kernels", "kernel", "KERNEL"]


def test_text_json_escapes_and_ascii_escaped_files_are_found(store: SessionStore) -> None:
    quoted = saved(store, "q", 'say "hi"\tand\\go')
    assert ids(store.search('"hi"\tand\\go')) == [quoted.id]
    conv = Conversation(messages=[Message(role="user", content="Crème brûlée")])
    doc = json.loads(session_json(conv))
    store.path_for(conv.id).write_text(json.dumps(doc, ensure_ascii=True))
    assert ids(store.search("brûlée")) == [conv.id]


def test_ids_and_field_names_are_not_searched(store: SessionStore) -> None:
    conv = saved(store, "plain", "hello")
    assert store.search("tool_call_id") == []
    assert store.search(conv.id[:12]) == []
    assert store.search("assistant") == []


def test_a_search_before_anything_was_saved_finds_nothing_and_creates_nothing(tmp_path: Path) -> None:
    store = SessionStore(tmp_path / "data" / "sessions")
    assert store.search("anything") == []
    assert not (tmp_path / "data").exists()


def test_unreadable_files_are_skipped(store: SessionStore) -> None:
    (store.root / "broken.json").write_text('{"title": "rust", "messages": [')
    assert store.search("rust") == []


# --- the index is derived data ------------------------------------------------------------


def test_the_index_follows_changed_new_and_deleted_files(store: SessionStore) -> None:
    conv = saved(store, "t", "alpha")
    assert ids(store.search("alpha")) == [conv.id]
    other = SessionStore(store.root)  # another process
    changed = other.load(conv.id)
    changed.messages[0].content = "beta"
    other.save(changed)
    later = saved(other, "t2", "alpha again")
    assert ids(store.search("alpha")) == [later.id]
    assert ids(store.search("beta")) == [conv.id]
    other.delete(later.id)
    assert store.search("alpha") == []


def test_a_missing_or_broken_index_is_rebuilt_from_the_files(store: SessionStore) -> None:
    conv = saved(store, "t", "gamma ray")
    assert ids(store.search("gamma")) == [conv.id]
    index = store.root / INDEX_FILE
    index.unlink()
    assert ids(SessionStore(store.root).search("gamma")) == [conv.id]
    index.write_bytes(b"this is not a database at all" * 100)
    for suffix in ("-wal", "-shm"):
        Path(f"{index}{suffix}").unlink(missing_ok=True)
    fresh = SessionStore(store.root)
    assert ids(fresh.search("gamma")) == [conv.id]
    assert ids(fresh.search("ray")) == [conv.id]


def test_the_index_is_private_and_the_sessions_stay_the_truth(store: SessionStore) -> None:
    conv = saved(store, "t", "delta")
    before = store.path_for(conv.id).read_bytes()
    store.search("delta")
    assert stat.S_IMODE((store.root / INDEX_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE((store.root / INDEX_FILE).parent.stat().st_mode) == 0o700
    assert store.path_for(conv.id).read_bytes() == before
    assert [s.id for s in store.list()[0]] == [conv.id], "the index file is not a session"


SEARCHER = r"""
import sys
from pathlib import Path
from vllm_chat.core.store import SessionStore
for _ in range(5):
    hits = SessionStore(Path(sys.argv[1])).search("epsilon")
    assert len(hits) == int(sys.argv[2]), len(hits)
"""


def test_processes_searching_at_once_build_one_good_index(store: SessionStore) -> None:
    for i in range(60):
        saved(store, f"s{i}", f"epsilon number {i}" if i % 2 else "nothing")
    procs = [subprocess.Popen([sys.executable, "-c", SEARCHER, str(store.root), "30"], stderr=subprocess.PIPE,
                              text=True, env=os.environ.copy()) for _ in range(3)]
    for proc in procs:
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
    assert len(store.search("epsilon")) == 30


def test_a_word_in_more_sessions_than_the_rank_cap_ranks_the_most_recent_ones(
        store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_chat.core.store import search as search_module

    monkeypatch.setattr(search_module, "RANK_CAP", 3)
    convs = [saved(store, f"s{i}", "common word " * (10 - i), updated_at=float(i)) for i in range(6)]
    hits = store.search("common", limit=10)
    assert {h.summary.id for h in hits} == {c.id for c in convs[3:]}, "the three most recent"
    assert [h.summary.id for h in hits] == [convs[3].id, convs[4].id, convs[5].id], "ranked among them"
    changed = store.load(convs[0].id)
    changed.messages[0].content += " common"
    store.save(changed)  # changed last: now among the most recent
    assert convs[0].id in {h.summary.id for h in store.search("common", limit=10)}


def test_the_folder_is_scanned_again_when_it_changed_or_the_last_scan_is_old(
        store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_chat.core.store import search as search_module

    monkeypatch.setattr(search_module, "_RACY", 0.0)  # no waiting for the folder's clock to tick
    conv = saved(store, "t", "alpha")
    assert ids(store.search("alpha")) == [conv.id]
    scans: list[int] = []
    real_scan = search_module.SearchIndex._scan
    monkeypatch.setattr(search_module.SearchIndex, "_scan", lambda self: scans.append(1) or real_scan(self))
    assert ids(store.search("alpha")) == [conv.id] and scans == [], "nothing changed: no scan"
    path = store.path_for(conv.id)
    path.write_text(path.read_text().replace("alpha", "omega"))  # edited in place: the folder is unchanged
    assert store.search("omega") == [] and scans == []
    monkeypatch.setattr(search_module, "FULL_SCAN_EVERY", 0.0)  # ... until the last scan is old enough
    assert ids(store.search("omega")) == [conv.id] and scans == [1]
    monkeypatch.setattr(search_module, "FULL_SCAN_EVERY", 60.0)
    copy_in(store, "copied-in", "omega copy")  # another program adds a file: the folder changed, not by us
    assert set(ids(store.search("omega"))) == {conv.id, "copied-in"} and scans == [1, 1]


def test_a_session_another_process_saved_is_found_by_the_next_search_without_a_scan(
        store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_chat.core.store import search as search_module

    monkeypatch.setattr(search_module, "_RACY", 0.0)
    first = saved(store, "t", "alpha")
    assert ids(store.search("alpha")) == [first.id]  # builds the index and starts the change log
    scans: list[int] = []
    real_scan = search_module.SearchIndex._scan
    monkeypatch.setattr(search_module.SearchIndex, "_scan", lambda self: scans.append(1) or real_scan(self))
    other = SessionStore(store.root)  # another process: saves, lists (rewriting its index), renames, deletes
    later = saved(other, "t2", "alpha too")
    other.list()
    assert set(ids(store.search("alpha"))) == {first.id, later.id}
    changed = other.load(first.id)
    changed.messages[0].content = "beta"
    other.save(changed)
    other.rename(later.id, "gamma")
    assert ids(store.search("alpha")) == [later.id]
    assert ids(store.search("beta")) == [first.id]
    assert ids(store.search("gamma")) == [later.id]
    other.delete(later.id)
    assert store.search("alpha") == [] and store.search("gamma") == []
    assert ids(SessionStore(store.root).search("beta")) == [first.id], "a new process reads the log too"
    assert scans == [], "every change was read from the change log"


def test_a_change_the_log_misses_makes_the_next_search_scan_the_folder(
        store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_chat.core.store import changes
    from vllm_chat.core.store import search as search_module

    monkeypatch.setattr(search_module, "_RACY", 0.0)
    first = saved(store, "t", "alpha")
    assert ids(store.search("alpha")) == [first.id]
    log = store.root / changes.CHANGES_FILE
    copy_in(store, "copied-in", "alpha copy")  # another program, then vllm-chat: the log starts mid-way
    second = saved(store, "t1", "alpha one")
    assert set(ids(store.search("alpha"))) == {first.id, "copied-in", second.id}
    # A vllm-chat that crashed between its write and its log line: the chain of folder keys breaks.
    log.write_bytes(log.read_bytes() + b"1:1 2:2 elsewhere.json\n")
    later = saved(store, "t2", "alpha again")
    assert set(ids(store.search("alpha"))) == {first.id, "copied-in", second.id, later.id}
    # The log deleted (or replaced) under the index: the next search scans and starts a new one.
    log.unlink()
    third = saved(SessionStore(store.root), "t3", "alpha three")
    assert set(ids(store.search("alpha"))) == {first.id, "copied-in", second.id, later.id, third.id}
    assert log.exists()
    fourth = saved(SessionStore(store.root), "t4", "alpha four")
    assert log.read_text().endswith(f" {fourth.id}.json\n")
    assert len(store.search("alpha")) == 6


def test_preparing_brings_an_existing_index_up_to_date_and_never_builds_one(
        store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_chat.core.store import search as search_module

    conv = saved(store, "t", "alpha")
    assert store.prepare_search() is False and not (store.root / INDEX_FILE).exists(), "the first search builds it"
    assert ids(store.search("alpha")) == [conv.id]
    later = saved(SessionStore(store.root), "t2", "alpha too")  # another process
    assert store.prepare_search() is True
    monkeypatch.setattr(search_module, "document", lambda path: pytest.fail(f"{path} read by the search"))
    assert set(ids(store.search("alpha"))) == {conv.id, later.id}, "found with nothing left to index"
