"""The change log `.search/changes`: a store that listed lately follows what other processes
saved, renamed and deleted by re-reading just those files, without a scan of the folder; a
change the log can't account for (another program, a lost line) and the minute-old scan
still bring a scan. (The search's use of the log: test_search.py.)"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.paths import ensure_private_dir
from vllm_chat.core.store import SessionStore, session_json
from vllm_chat.core.store import listing as listing_module
from vllm_chat.core.store.changes import CHANGES_FILE


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every folder the listing scans (its clock trusted at once: no waiting for it to tick)."""
    monkeypatch.setattr(listing_module, "is_racy", lambda folder: False)
    seen: list[str] = []
    real = os.scandir

    def counting(path):  # type: ignore[no-untyped-def]
        if sys._getframe(1).f_code is listing_module.Listing.refresh.__code__:  # the listing's, not the search's
            seen.append(str(path))
        return real(path)

    monkeypatch.setattr(listing_module.os, "scandir", counting)
    return seen


def saved(store: SessionStore, title: str, text: str = "hello") -> Conversation:
    conv = Conversation(title=title, model="m")
    conv.messages.append(Message(role="user", content=text))
    store.save(conv)
    return conv


def titles(store: SessionStore) -> list[str]:
    return sorted(s.title for s in store.list()[0])


def test_a_store_that_listed_follows_another_process_without_scanning(tmp_path: Path, scans: list[str]) -> None:
    store = SessionStore(tmp_path / "sessions")
    first = saved(store, "first")
    store.search("hello")  # a search index, and with it the change log, exists
    assert titles(store) == ["first"] and len(scans) == 1
    other = SessionStore(store.root)  # another process
    second = saved(other, "second")
    other.rename(first.id, "first renamed")
    assert titles(store) == ["first renamed", "second"]
    other.delete(second.id)
    saved(store, "mine")  # this process's own save, in the log too
    assert titles(store) == ["first renamed", "mine"]
    assert len(scans) == 1, "no scan: the log named every file that changed"


def test_a_change_outside_the_log_or_an_old_scan_makes_the_listing_scan(
        tmp_path: Path, scans: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    store = SessionStore(tmp_path / "sessions")
    ensure_private_dir(store.root)
    first = saved(store, "first")
    store.search("hello")
    assert titles(store) == ["first"] and len(scans) == 1
    # Another program copies a session in: the folder changed and no line says why.
    (store.root / "copied.json").write_text(session_json(Conversation(title="copied", model="m")))
    st = store.root.stat()
    os.utime(store.root, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))  # a change even within one tick
    assert titles(store) == ["copied", "first"] and len(scans) == 2
    # Edited in place by another program: no folder entry changes, so only the periodic scan sees it.
    path = store.path_for(first.id)
    path.write_text(path.read_text().replace('"first"', '"edited"'))
    assert titles(store) == ["copied", "first"] and len(scans) == 2
    monkeypatch.setattr(listing_module, "FULL_SCAN_EVERY", 0.0)
    assert titles(store) == ["copied", "edited"] and len(scans) == 3
    # The log removed (or started afresh by a search): scan.
    monkeypatch.setattr(listing_module, "FULL_SCAN_EVERY", 60.0)
    (store.root / CHANGES_FILE).unlink()
    saved(SessionStore(store.root), "later")
    assert titles(store) == ["copied", "edited", "later"] and len(scans) == 4


def test_without_a_search_index_there_is_no_log_and_every_listing_scans(tmp_path: Path, scans: list[str]) -> None:
    store = SessionStore(tmp_path / "sessions")
    saved(store, "first")
    assert titles(store) == ["first"]
    saved(SessionStore(store.root), "second")
    assert titles(store) == ["first", "second"]
    assert len(scans) == 2 and not (store.root / CHANGES_FILE).exists()


def test_a_log_no_search_reads_is_started_afresh_by_the_writers_and_nothing_is_missed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vllm_chat.core.store import changes

    monkeypatch.setattr(changes, "WRITER_MAX_BYTES", 400)  # a few lines
    store = SessionStore(tmp_path / "sessions")
    first = saved(store, "first")
    assert [h.summary.id for h in store.search("hello")] == [first.id]
    log = store.root / CHANGES_FILE
    convs = [saved(SessionStore(store.root), f"s{i}") for i in range(12)]  # another process, no search
    assert log.stat().st_size <= 400 + 200, "started afresh as it grew"
    assert {h.summary.id for h in store.search("hello", limit=100)} == {first.id, *(c.id for c in convs)}
    assert titles(store) == sorted(["first", *(f"s{i}" for i in range(12))])
