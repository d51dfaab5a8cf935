"""The session store: what is saved comes back exactly (the whole tree), bad files are reported
and left alone, writes are atomic and private, and listing, resolving, renaming and deleting behave.
(Many writers: test_store_merge.py and test_store_races.py; search: test_search.py.)"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vllm_chat.core import tree
from vllm_chat.core.conversation import (
    Attachment,
    Conversation,
    Message,
    Timings,
    ToolCall,
    Usage,
)
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.paths import ensure_private_dir
from vllm_chat.core.store import (
    INDEX_NAME,
    INTERRUPTED,
    LOCK_NAME,
    SCHEMA_VERSION,
    SessionIdConflict,
    SessionStore,
    StoreError,
    UnreadableSession,
    parse_session,
    session_json,
)
from vllm_chat.core.store import files as store_files
from vllm_chat.core.store import listing as listing_module
from vllm_chat.core.store.listing import read_index

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty data folder that vllm-chat uses instead of the user's."""
    path = tmp_path / "data"
    monkeypatch.setenv("VLLM_CHAT_DATA_DIR", str(path))
    return path


@pytest.fixture
def store(data_dir: Path) -> SessionStore:
    """A store in the temporary data folder, as the app builds it, after its first save
    (which creates the folder)."""
    s = SessionStore()
    ensure_private_dir(s.root)
    return s


def rich_conversation(**overrides) -> Conversation:
    """A conversation with every kind of message the app can produce."""
    call_ok = ToolCall(id="chatcmpl-tool-0123456789abcdef", name="calculator", arguments='{"expression": "6*7"}')
    call_err = ToolCall(id="chatcmpl-tool-1111111111111111", name="read_file", arguments='{"path": "/etc/shadow"}')
    call_denied = ToolCall(id="chatcmpl-tool-2222222222222222", name="grep", arguments="{not json")
    conv = Conversation(
        title="Everything at once",
        base_url="http://localhost:8000/v1",
        model="Qwen/Qwen3-8B",
        system_prompt="Be brief.",
        params=SamplingParams(temperature=0.2, top_k=20, stop=["</s>"], enable_thinking=True),
        tools_enabled=False,
        **overrides,
    )
    conv.messages = [
        Message(
            role="user",
            content="What is 6*7? Also look at these.",
            attachments=[
                Attachment(kind="image", name="cat.png", mime="image/png", size=1234, width=640,
                           height=480, ref="ab" * 32 + ".png"),
                Attachment(kind="audio", name="talk.wav", url="https://example.com/talk.wav"),
            ],
        ),
        Message(
            role="assistant",
            content="",
            reasoning="Use the calculator, then read the file.",
            tool_calls=[call_ok, call_err, call_denied],
            finish_reason="tool_calls",
            model="Qwen/Qwen3-8B",
            usage=Usage(prompt_tokens=120, completion_tokens=30, reasoning_tokens=12),
            timings=Timings(started_at=1_700_000_000.5, ttft=0.25, duration=1.75),
        ),
        Message(role="tool", content="42", tool_call_id=call_ok.id, name="calculator", tool_status="ok"),
        Message(role="tool", content="permission denied", tool_call_id=call_err.id, name="read_file",
                tool_status="error"),
        Message(role="tool", content="the user declined", tool_call_id=call_denied.id, name="grep",
                tool_status="denied"),
        Message(role="assistant", content="It is 42. The file is", status="stopped", model="Qwen/Qwen3-8B",
                usage=Usage(prompt_tokens=200, completion_tokens=9)),
        Message(role="user", content="Try again — ünïcödé 🚀 \"quotes\" and \\backslashes\\"),
        Message(role="assistant", content="", status="failed", error="The server closed the stream.",
                finish_reason=None),
    ]
    updated = conv.updated_at
    tree.add_alternatives(conv, conv.messages[1].id, [
        [Message(role="assistant", content="An older answer.", finish_reason="stop")]])
    conv.updated_at = updated
    return conv


def saved_conversation(store: SessionStore, title: str, updated_at: float, text: str = "hello") -> Conversation:
    """Save a two-message session with this title and update time, and return it."""
    conv = Conversation(title=title, model="m", updated_at=updated_at, created_at=updated_at - 10)
    conv.messages = [Message(role="user", content=text), Message(role="assistant", content=f"reply to {text}")]
    store.save(conv)
    return conv


# --- round trip -----------------------------------------------------------------


def test_every_kind_of_message_comes_back_exactly(store: SessionStore) -> None:
    conv = rich_conversation()
    store.save(conv)
    assert store.load(conv.id) == conv


def test_reloading_in_a_new_store_restores_the_same_conversation(store: SessionStore) -> None:
    conv = rich_conversation()
    store.save(conv)
    assert SessionStore().load(conv.id).model_dump() == conv.model_dump()


def test_the_file_has_schema_version_usage_totals_and_openai_shaped_fields(store: SessionStore) -> None:
    conv = rich_conversation()
    store.save(conv)
    doc = json.loads(store.path_for(conv.id).read_text())
    assert doc["schema_version"] == SCHEMA_VERSION == 3
    assert doc["generation"] == 1
    assert doc["usage_total"] == {"prompt_tokens": 320, "completion_tokens": 39, "reasoning_tokens": 12}
    assert doc["base_url"] == "http://localhost:8000/v1"
    assert doc["messages"][1]["tool_calls"][0] == {
        "id": "chatcmpl-tool-0123456789abcdef", "name": "calculator", "arguments": '{"expression": "6*7"}'
    }
    assert doc["messages"][3]["tool_status"] == "error"
    assert [m["status"] for m in doc["messages"]][-3:] == ["stopped", "complete", "failed"]
    assert doc["aside"][0]["content"] == "An older answer."
    assert doc["aside"][0]["parent_id"] == doc["messages"][0]["id"] == doc["messages"][1]["parent_id"]
    assert doc["forks"] == [{"after": doc["messages"][0]["id"],
                             "options": [doc["messages"][1]["id"], doc["aside"][0]["id"]],
                             "chosen": doc["messages"][1]["id"]}]


def test_each_save_counts_up_the_generation(store: SessionStore) -> None:
    conv = saved_conversation(store, "gens", 1.0)
    conv.add(Message(role="user", content="more"))
    store.save(conv)
    store.save(conv)
    assert json.loads(store.path_for(conv.id).read_text())["generation"] == 3


def test_a_reply_saved_while_streaming_loads_as_stopped_and_interrupted(store: SessionStore) -> None:
    conv = Conversation(messages=[Message(role="user", content="hi"),
                                  Message(role="assistant", content="Half a rep", status="streaming")])
    store.save(conv)
    loaded = store.load(conv.id)
    assert loaded.messages[0] == conv.messages[0]
    assert loaded.messages[1].status == "stopped"
    assert loaded.messages[1].error == INTERRUPTED
    assert loaded.messages[1].content == "Half a rep"


def test_a_copied_session_file_is_its_own_session(store: SessionStore) -> None:
    conv = saved_conversation(store, "original", 100.0)
    shutil.copy(store.path_for(conv.id), store.root / "copy-of-it.json")
    assert store.load("copy-of-it").id == "copy-of-it"
    assert {s.id for s in store.list()[0]} == {conv.id, "copy-of-it"}


def test_loading_a_missing_session_says_so(store: SessionStore) -> None:
    with pytest.raises(StoreError, match="no session abc"):
        store.load("abc")


@pytest.mark.parametrize("bad_id", ["../escape", "a/b", "", ".hidden", "x" * 200, "with space"])
def test_ids_that_are_not_plain_names_are_refused(store: SessionStore, bad_id: str) -> None:
    with pytest.raises(StoreError, match="not a session id"):
        store.load(bad_id)
    with pytest.raises(StoreError, match="not a session id"):
        store.save(Conversation(id=bad_id))


# --- migration ------------------------------------------------------------------


def test_a_version_1_file_is_migrated_on_load(store: SessionStore) -> None:
    shutil.copy(FIXTURES / "session_v1.json", store.root / "5f0c3a9e2b7d4c1e8a6f90b1c2d3e4f5.json")
    conv = store.load("5f0c3a9e2b7d4c1e8a6f90b1c2d3e4f5")
    assert conv.title == "Weather in Lyon"
    assert conv.base_url == "http://gpu-box:8000/v1"
    assert conv.created_at == 1740823200.0  # 2025-03-01T10:00:00Z
    assert conv.updated_at == 1740823350.0
    assert conv.params.temperature == 0.6 and conv.params.max_tokens == 512
    user, call, tool, stopped = conv.messages
    assert user.attachments[0].kind == "image"
    assert user.attachments[0].ref == "9b74c9897bac770ffc029102a200c5de.png"
    assert user.status == "complete"
    assert call.reasoning == "A cat on a sofa. I need the weather tool for Lyon."
    assert call.tool_calls == [ToolCall(id="chatcmpl-tool-8a1b2c3d4e5f6a7b", name="get_weather",
                                        arguments='{"city": "Lyon"}')]
    assert call.timings == Timings(started_at=1740823201.0, ttft=0.21, duration=1.4)
    assert tool.tool_status == "error" and tool.name == "get_weather"
    assert stopped.status == "stopped"
    assert conv.usage_total == Usage(prompt_tokens=385, completion_tokens=96)
    assert (conv.aside, conv.forks, conv.removed) == ([], [], [])
    assert [m.parent_id for m in conv.messages] == [None, user.id, call.id, tool.id]


def test_a_migrated_session_round_trips_in_the_current_version(store: SessionStore) -> None:
    original = FIXTURES / "session_v1.json"
    target = store.root / "5f0c3a9e2b7d4c1e8a6f90b1c2d3e4f5.json"
    shutil.copy(original, target)
    conv = store.load("5f0c3a9e2b7d4c1e8a6f90b1c2d3e4f5")
    assert target.read_bytes() == original.read_bytes()  # loading never rewrites
    store.save(conv)
    assert json.loads(target.read_text())["schema_version"] == SCHEMA_VERSION
    assert store.load(conv.id) == conv


def test_a_version_1_file_is_listed_with_its_summary(store: SessionStore) -> None:
    shutil.copy(FIXTURES / "session_v1.json", store.root / "5f0c3a9e2b7d4c1e8a6f90b1c2d3e4f5.json")
    (summary,), unreadable = store.list()
    assert unreadable == []
    assert (summary.title, summary.model, summary.message_count) == ("Weather in Lyon", "Qwen/Qwen3-8B", 4)
    assert summary.preview.startswith("It's a cat on a sofa.")


def test_a_version_1_file_with_a_bad_time_is_unreadable_with_the_reason() -> None:
    doc = json.loads((FIXTURES / "session_v1.json").read_text())
    doc["created"] = "yesterday"
    with pytest.raises(StoreError, match="created: 'yesterday' is not an ISO 8601 time"):
        parse_session(json.dumps(doc))


# --- unreadable files -------------------------------------------------------------

UNREADABLE_FILES = {
    "corrupt": (b'{"schema_version": 2, "id": "x", "messages": [', "not valid JSON"),
    "newer": (json.dumps({"schema_version": 99, "id": "newer", "messages": []}).encode(),
              "newer vllm-chat"),
    "alist": (b"[1, 2, 3]", "JSON list, not an object"),
    "badmessages": (json.dumps({"schema_version": 2, "id": "b", "messages": {"0": "hi"}}).encode(),
                    "messages: Input should be a valid list"),
    "badrole": (json.dumps({"schema_version": 2, "id": "r",
                            "messages": [{"role": "wizard", "content": "hi"}]}).encode(),
                "messages.0.role"),
    "binary": (bytes(range(256)) * 4, "not UTF-8"),
    "foreign": (json.dumps({"name": "some-package", "version": "1.0.0"}).encode(), "no schema_version"),
    "badversion": (json.dumps({"schema_version": "two", "id": "v", "messages": []}).encode(),
                   "not a version number"),
    "noid": (json.dumps({"schema_version": 2, "messages": []}).encode(), "no id"),
    "empty": (b"", "not valid JSON"),
}


@pytest.fixture
def bad_files(store: SessionStore) -> dict[str, bytes]:
    """One file for each way a session file can be unreadable; returns name -> bytes."""
    for name, (content, _) in UNREADABLE_FILES.items():
        (store.root / f"{name}.json").write_bytes(content)
    return {f"{name}.json": content for name, (content, _) in UNREADABLE_FILES.items()}


def test_unreadable_files_are_listed_with_their_reason(store: SessionStore, bad_files: dict[str, bytes]) -> None:
    good = saved_conversation(store, "fine", 50.0)
    summaries, unreadable = store.list()
    assert [s.id for s in summaries] == [good.id]
    reasons = {u.path.stem: u.reason for u in unreadable}
    assert set(reasons) == set(UNREADABLE_FILES)
    for name, (_, expected) in UNREADABLE_FILES.items():
        assert expected in reasons[name], (name, reasons[name])


def test_loading_an_unreadable_file_raises_the_same_reason(store: SessionStore, bad_files: dict[str, bytes]) -> None:
    for name, (_, expected) in UNREADABLE_FILES.items():
        with pytest.raises(StoreError, match=f"session {name} can't be read") as info:
            store.load(name)
        assert expected in str(info.value)


def test_unreadable_files_stay_byte_for_byte_untouched(store: SessionStore, bad_files: dict[str, bytes]) -> None:
    for round_no in range(3):
        conv = saved_conversation(store, f"other {round_no}", 100.0 + round_no)
        store.list()
        store.search("anything")
        store.load(conv.id)
        store.rename(conv.id, "renamed")
        for name in UNREADABLE_FILES:
            with pytest.raises(StoreError):
                store.load(name)
    after = {name: (store.root / name).read_bytes() for name in bad_files}
    assert after == bad_files


def test_saving_over_an_unreadable_file_refuses_and_leaves_it(store: SessionStore, bad_files: dict[str, bytes]) -> None:
    conv = Conversation(id="corrupt", messages=[Message(role="user", content="hi")])
    with pytest.raises(SessionIdConflict, match="can't be read"):
        store.save(conv)
    assert (store.root / "corrupt.json").read_bytes() == bad_files["corrupt.json"]


def test_a_file_name_that_is_not_an_id_is_unreadable(store: SessionStore) -> None:
    conv = saved_conversation(store, "t", 1.0)
    shutil.copy(store.path_for(conv.id), store.root / "my notes.json")
    _, unreadable = store.list()
    assert [u.path.name for u in unreadable] == ["my notes.json"]
    assert "not a session id" in unreadable[0].reason


def test_a_broken_file_that_is_fixed_is_listed_again(store: SessionStore) -> None:
    conv = saved_conversation(store, "will break", 1.0)
    good = store.path_for(conv.id).read_bytes()
    store.path_for(conv.id).write_bytes(b"{oops")
    assert [u.path.stem for u in store.list()[1]] == [conv.id]
    store.path_for(conv.id).write_bytes(good)
    summaries, unreadable = store.list()
    assert ([s.id for s in summaries], unreadable) == ([conv.id], [])


def test_other_files_in_the_folder_are_ignored(store: SessionStore) -> None:
    (store.root / "README.txt").write_text("hello")
    (store.root / "subdir.json").mkdir()
    (store.root / ".abc.json.1234.tmp").write_text("partial")
    assert store.list() == ([], [])


def test_a_folder_that_cant_be_listed_raises_a_store_error(tmp_path: Path) -> None:
    s = SessionStore(tmp_path / "sessions")
    s.root.write_text("a file where the folder should be")
    with pytest.raises(StoreError, match="can't list sessions"):
        s.list()


# --- atomic writes ------------------------------------------------------------------


def _versions(store: SessionStore) -> tuple[Conversation, Conversation]:
    old = rich_conversation()
    store.save(old)
    new = old.model_copy(deep=True)
    new.title = "new version"
    new.messages.append(Message(role="user", content="x" * 100_000))
    tree.link(new)
    return old, new


def _assert_old_intact_and_no_temp(store: SessionStore, old: Conversation) -> None:
    assert store.path_for(old.id).read_bytes() == session_json(old, 1).encode()
    assert [p.name for p in store.root.iterdir() if p.name not in (INDEX_NAME, LOCK_NAME)] == [f"{old.id}.json"]


def test_a_write_failing_halfway_leaves_the_old_file(store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _versions(store)
    real_write = os.write

    def half_then_fail(fd: int, data) -> int:
        real_write(fd, bytes(data[: len(data) // 2]))
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(store_files.os, "write", half_then_fail)
    with pytest.raises(StoreError, match="No space left on device"):
        store.save(new)
    monkeypatch.undo()
    _assert_old_intact_and_no_temp(store, old)


@pytest.mark.parametrize("step", ["fsync", "replace", "fchmod"])
def test_a_failure_at_any_step_leaves_the_old_file(
    store: SessionStore, monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    old, new = _versions(store)

    def fail(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(store_files.os, step, fail)
    with pytest.raises(StoreError, match="Input/output error"):
        store.save(new)
    monkeypatch.undo()
    _assert_old_intact_and_no_temp(store, old)
    assert store.load(old.id) == old


def test_an_interrupt_during_the_write_leaves_the_old_file(store: SessionStore,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = _versions(store)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(store_files.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        store.save(new)
    monkeypatch.undo()
    _assert_old_intact_and_no_temp(store, old)


CRASHING_SAVE = r"""
import os, sys
from pathlib import Path
from vllm_chat.core.conversation import Conversation
from vllm_chat.core.store import SessionStore
from vllm_chat.core.store import files as store_files

point = sys.argv[1]
new = Conversation.model_validate_json(Path(sys.argv[2]).read_text())
store = SessionStore()
new._disk = store.load(new.id)._disk  # as if this process had loaded it and changed it
real = {name: getattr(os, name) for name in ("write", "fsync", "replace")}

def crash_write(fd, data):
    if point == "before-write":
        os._exit(9)
    real["write"](fd, bytes(data[: len(data) // 2]))
    os._exit(9)

def crash_after(name):
    def wrapper(*args):
        real[name](*args)
        os._exit(9)
    return wrapper

def crash_before(name):
    def wrapper(*args):
        os._exit(9)
    return wrapper

patches = {
    "before-write": ("write", crash_write),
    "mid-write": ("write", crash_write),
    "before-fsync": ("fsync", crash_before("fsync")),
    "after-fsync": ("fsync", crash_after("fsync")),
    "before-replace": ("replace", crash_before("replace")),
    "after-replace": ("replace", crash_after("replace")),
}
name, fn = patches[point]
setattr(store_files.os, name, fn)
store.save(new)
os._exit(0)
"""


@pytest.mark.parametrize(
    "point", ["before-write", "mid-write", "before-fsync", "after-fsync", "before-replace", "after-replace"]
)
def test_a_process_dying_at_any_point_of_a_save_leaves_the_old_or_the_new_file(
    store: SessionStore, tmp_path: Path, point: str
) -> None:
    old, new = _versions(store)
    new_file = tmp_path / "new.json"
    new_file.write_text(new.model_dump_json())
    result = subprocess.run([sys.executable, "-c", CRASHING_SAVE, point, str(new_file)],
                            env=os.environ.copy(), capture_output=True, timeout=60, check=False)
    assert result.returncode == 9, result.stderr.decode()
    on_disk = store.path_for(old.id).read_bytes()
    assert on_disk in (session_json(old, 1).encode(), session_json(new, 2).encode())
    if point == "after-replace":
        assert on_disk == session_json(new, 2).encode()
    summaries, unreadable = SessionStore().list()
    assert [s.id for s in summaries] == [old.id]
    assert unreadable == []


def test_temp_files_left_by_a_crash_are_swept_once_they_are_old(store: SessionStore) -> None:
    leftover = store.root / ".abc.json.deadbeef.tmp"
    leftover.write_text("partial")
    store.list()
    assert leftover.exists()  # could belong to a save in progress
    hours_ago = time.time() - 2 * 3600
    os.utime(leftover, (hours_ago, hours_ago))
    store.list()
    assert not leftover.exists()


def test_concurrent_snapshots_never_write_an_older_one_over_a_newer_one(store: SessionStore) -> None:
    conv = Conversation(messages=[Message(role="user", content="one")])
    older = store.prepare(conv)
    conv.add(Message(role="assistant", content="two"))
    newer = store.prepare(conv)
    store.commit(newer)
    store.commit(older)
    assert len(store.load(conv.id).messages) == 2


# --- permissions ----------------------------------------------------------------------


def test_session_files_are_private_and_the_folder_too(store: SessionStore, data_dir: Path) -> None:
    conv = saved_conversation(store, "private", 1.0)
    store.list()
    assert stat.S_IMODE(store.path_for(conv.id).stat().st_mode) == 0o600
    assert stat.S_IMODE((store.root / INDEX_NAME).stat().st_mode) == 0o600
    assert stat.S_IMODE(store.root.stat().st_mode) == 0o700
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700


def test_files_are_private_even_with_a_permissive_umask(store: SessionStore) -> None:
    previous = os.umask(0)
    try:
        conv = saved_conversation(store, "private", 1.0)
    finally:
        os.umask(previous)
    assert stat.S_IMODE(store.path_for(conv.id).stat().st_mode) == 0o600


def test_a_store_creates_its_folder_private_on_the_first_save_and_listing_creates_nothing(
        tmp_path: Path) -> None:
    s = SessionStore(tmp_path / "a" / "sessions")
    assert s.list() == ([], []) and not (tmp_path / "a").exists(), "a read never creates folders"
    s.save(Conversation(title="first"))
    assert stat.S_IMODE(s.root.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700, "the folders it had to create too"


def test_a_sessions_folder_that_cant_be_created_is_a_store_error_on_save(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    s = SessionStore(blocker / "sessions")
    with pytest.raises(StoreError, match="can't save session"):
        s.save(Conversation(title="first"))


# --- listing ---------------------------------------------------------------------------


def test_the_list_is_newest_updated_first(store: SessionStore) -> None:
    a = saved_conversation(store, "a", 300.0)
    b = saved_conversation(store, "b", 100.0)
    c = saved_conversation(store, "c", 200.0)
    summaries, _ = store.list()
    assert [s.id for s in summaries] == [a.id, c.id, b.id]
    assert store.most_recent().id == a.id


def test_a_summary_holds_what_the_list_shows(store: SessionStore) -> None:
    conv = rich_conversation(created_at=10.0, updated_at=20.0)
    store.save(conv)
    (summary,), _ = store.list()
    assert summary.id == conv.id
    assert summary.title == "Everything at once"
    assert summary.model == "Qwen/Qwen3-8B"
    assert (summary.created_at, summary.updated_at) == (10.0, 20.0)
    assert summary.message_count == 8
    assert summary.preview == 'Try again — ünïcödé 🚀 "quotes" and \\backslashes\\'
    assert summary.path == store.path_for(conv.id)


def test_an_untitled_session_is_listed_under_its_first_prompt(store: SessionStore) -> None:
    conv = Conversation(messages=[Message(role="user", content="How do I   reverse a list?\nThanks")])
    store.save(conv)
    assert store.list()[0][0].title == "How do I reverse a list?"


def test_an_empty_folder_has_no_most_recent_session(store: SessionStore) -> None:
    assert store.most_recent() is None
    assert store.list() == ([], [])


def test_a_session_changed_by_another_process_shows_its_new_title(store: SessionStore) -> None:
    conv = saved_conversation(store, "before", 1.0)
    assert [s.title for s in store.list()[0]] == ["before"]
    other = SessionStore()
    changed = other.load(conv.id)
    changed.title = "after"
    other.save(changed)
    assert [s.title for s in store.list()[0]] == ["after"]


def test_a_file_edited_in_place_with_the_same_size_is_noticed(store: SessionStore) -> None:
    conv = saved_conversation(store, "AAAA", 1.0)
    store.list()
    path = store.path_for(conv.id)
    data = path.read_bytes().replace(b'"title":"AAAA"', b'"title":"BBBB"')
    with open(path, "r+b") as f:  # same inode, same size
        f.write(data)
    assert [s.title for s in store.list()[0]] == ["BBBB"]


def test_new_and_deleted_files_are_picked_up_without_the_store(store: SessionStore) -> None:
    a = saved_conversation(store, "a", 1.0)
    b = saved_conversation(store, "b", 2.0)
    store.list()
    other = SessionStore()
    c = saved_conversation(other, "c", 3.0)
    store.path_for(a.id).unlink()
    assert [s.id for s in store.list()[0]] == [c.id, b.id]
    assert set(read_index(store.root / INDEX_NAME)) == {f"{b.id}.json", f"{c.id}.json"}


def test_only_changed_files_are_read_when_listing(store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    convs = [saved_conversation(store, f"s{i}", float(i)) for i in range(5)]
    store.list()
    fresh = SessionStore()
    reads: list[str] = []
    real = listing_module.read_summary

    def counting(path):
        reads.append(path.stem)
        return real(path)

    monkeypatch.setattr(listing_module, "read_summary", counting)
    fresh.list()
    assert reads == []
    changed = store.load(convs[2].id)
    changed.title = "changed"
    SessionStore().save(changed)
    assert {s.title for s in fresh.list()[0]} == {"s0", "s1", "changed", "s3", "s4"}
    assert reads == [convs[2].id]


@pytest.mark.parametrize(
    "index_content",
    [b"{not json", b"[]", b'{"index_version": 1, "schema_version": 2, "entries": {"x.json": 5}}',
     b'{"index_version": 3, "schema_version": 3}\n["x.json", 5]\n[half a line',
     b'{"index_version": 3, "schema_version": 3}\n'
     + json.dumps(["gone.json", 1, 2, 3, 4, "gone", "t", "m", 1.0, 2.0, "two", "p"]).encode()],
)
def test_a_corrupt_index_is_rebuilt(store: SessionStore, index_content: bytes) -> None:
    a = saved_conversation(store, "a", 1.0)
    b = saved_conversation(store, "b", 2.0)
    store.list()
    (store.root / INDEX_NAME).write_bytes(index_content)
    assert [s.title for s in SessionStore().list()[0]] == ["b", "a"]
    assert read_index(store.root / INDEX_NAME).keys() == {
        f"{a.id}.json", f"{b.id}.json"
    }


def test_a_lying_index_entry_is_overruled_by_the_file(store: SessionStore) -> None:
    conv = saved_conversation(store, "truth", 1.0)
    store.list()
    index_path = store.root / INDEX_NAME
    header, *lines = index_path.read_text().splitlines()
    rows = [json.loads(line) for line in lines]
    row = next(r for r in rows if r[0] == f"{conv.id}.json")
    row[6] = "lie"  # the title
    row[2] += 1  # the size: the file no longer matches the stats the entry was made from
    index_path.write_text("\n".join([header, *map(json.dumps, rows)]) + "\n")
    assert [s.title for s in SessionStore().list()[0]] == ["truth"]


def test_unreadable_files_are_remembered_in_the_index(store: SessionStore, monkeypatch: pytest.MonkeyPatch) -> None:
    (store.root / "broken.json").write_bytes(b"{")
    store.list()
    monkeypatch.setattr(listing_module, "read_summary", lambda path: pytest.fail("re-read"))
    _, unreadable = SessionStore().list()
    assert unreadable == [UnreadableSession(store.root / "broken.json", unreadable[0].reason)]
    assert "not valid JSON" in unreadable[0].reason


# --- resolve, delete, rename -------------------------------------------------------


def test_resolve_accepts_a_whole_id_or_a_unique_prefix(store: SessionStore) -> None:
    for sid in ("abc123", "abd456", "xyz789"):
        saved_conversation_with_id(store, sid)
    assert store.resolve("abc123") == "abc123"
    assert store.resolve("abc") == "abc123"
    assert store.resolve("x") == "xyz789"
    assert store.resolve("  abd  ") == "abd456"


def saved_conversation_with_id(store: SessionStore, sid: str) -> None:
    """Save a one-message session under a chosen id."""
    store.save(Conversation(id=sid, messages=[Message(role="user", content=sid)]))


def test_resolve_names_the_candidates_of_an_ambiguous_prefix(store: SessionStore) -> None:
    for sid in ("abc123", "abd456", "xyz789"):
        saved_conversation_with_id(store, sid)
    with pytest.raises(StoreError, match="ambiguous: 'ab' matches abc123, abd456"):
        store.resolve("ab")


def test_resolve_says_when_nothing_matches(store: SessionStore) -> None:
    saved_conversation_with_id(store, "abc123")
    with pytest.raises(StoreError, match="no session matches 'zzz'"):
        store.resolve("zzz")
    with pytest.raises(StoreError, match="no session id given"):
        store.resolve("  ")
    with pytest.raises(StoreError, match="no session matches '../x'"):
        store.resolve("../x")


def test_resolve_finds_an_unreadable_file_so_loading_can_say_why(store: SessionStore) -> None:
    (store.root / "broken1.json").write_text("{")
    assert store.resolve("brok") == "broken1"
    with pytest.raises(StoreError, match="not valid JSON"):
        store.load(store.resolve("brok"))


def test_delete_removes_the_file_and_its_listing(store: SessionStore) -> None:
    a = saved_conversation(store, "a", 1.0)
    b = saved_conversation(store, "b", 2.0)
    store.list()
    store.delete(a.id)
    assert not store.path_for(a.id).exists()
    assert [s.id for s in store.list()[0]] == [b.id]
    with pytest.raises(StoreError, match=f"no session {a.id}"):
        store.delete(a.id)


def test_delete_also_removes_an_unreadable_file_when_asked(store: SessionStore) -> None:
    (store.root / "broken.json").write_text("{")
    store.delete("broken")
    assert store.list() == ([], [])


def test_rename_changes_only_the_title(store: SessionStore) -> None:
    conv = rich_conversation()
    store.save(conv)
    store.rename(conv.id, "  A   better\nname ")
    renamed = store.load(conv.id)
    assert renamed.title == "A better name"
    assert renamed.model_dump(exclude={"title"}) == conv.model_dump(exclude={"title"})
    assert [s.title for s in store.list()[0]] == ["A better name"]
    with pytest.raises(StoreError, match="can't be empty"):
        store.rename(conv.id, "   ")
