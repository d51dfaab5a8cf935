"""The session browser, driven with Pilot over real session files through a real `ChatSession`:
listing, filtering by title (at once) and by words anywhere in the messages (in a worker, ranked,
with a snippet), open, rename, delete with confirmation, unreadable files left alone, the empty
state, and the keys."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from textual.app import App
from textual.screen import Screen
from textual.widgets import Input

from tests.support.pilot import screen_text, wait_for_screen, wait_for_text, wait_until
from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.core.store.search import INDEX_FILE, SearchHit
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.rename import RenameScreen
from vllm_chat.ui.screens.sessions import (
    UNREADABLE_PREFIX,
    SessionBrowserScreen,
    absolute_time,
    relative_time,
)
from vllm_chat.ui.theming import ThemeBook


class Host(App):
    """A bare app that shows one screen and keeps what it reports."""

    def __init__(self, make_screen: Callable[[], Screen[Any]]) -> None:
        self.themes = ThemeBook("vllm-night")
        super().__init__()
        self.make_screen = make_screen
        self.results: list[Any] = []

    def get_theme_variable_defaults(self) -> dict[str, str]:
        return self.themes.app_variables(self)

    def on_mount(self) -> None:
        self.themes.register_all(self)
        self.push_screen(self.make_screen(), self.results.append)



def chat_on(store: SessionStore, current_id: str | None = None) -> ChatSession:
    """The session the app would have: `current_id` open (or a new, unsaved conversation)."""
    conversation = store.load(current_id) if current_id else None
    return ChatSession(load_settings(), conversation=conversation, store=store)


@asynccontextmanager
async def browser(store: SessionStore, current_id: str | None = None,
                  size: tuple[int, int] = (120, 36)) -> AsyncIterator[tuple[Host, Any, SessionBrowserScreen]]:
    chat = chat_on(store, current_id)
    app = Host(lambda: SessionBrowserScreen(chat))
    app.chat = chat  # type: ignore[attr-defined]
    async with app.run_test(size=size) as pilot:
        screen = await wait_until(pilot, lambda: isinstance(app.screen, SessionBrowserScreen)
                                  and app.screen.loaded and app.screen, message="the list")
        await pilot.pause()
        yield app, pilot, screen


def save(store: SessionStore, title: str, *, updated_ago: float, model: str = "Qwen/Qwen3-8B",
         texts: tuple[str, ...] = ("hello", "hi there")) -> Conversation:
    now = time.time()
    conv = Conversation(title=title, model=model, created_at=now - updated_ago - 60, updated_at=now - updated_ago)
    for i, text in enumerate(texts):
        conv.messages.append(Message(role="user" if i % 2 == 0 else "assistant", content=text))
    store.save(conv)
    return conv


def row_ids(screen: SessionBrowserScreen) -> list[str | None]:
    """Session ids (and unreadable-file ids) of the rows, in order; section rules are None."""
    return list(screen.session_list.ids)


def session_ids(screen: SessionBrowserScreen) -> list[str]:
    return [i for i in row_ids(screen) if i is not None and not i.startswith(UNREADABLE_PREFIX)]


def highlighted(screen: SessionBrowserScreen) -> str | None:
    return screen.session_list.highlighted_id


async def type_filter(pilot: Any, text: str) -> None:
    await pilot.press(*text)


class GatedStore(SessionStore):
    """A real store whose message search waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()
        self.searched: list[str] = []

    def search(self, query: str, *, everywhere: bool = True, limit: int = 50) -> list[SearchHit]:
        self.searched.append(query)
        self.gate.wait(timeout=30)
        return super().search(query, everywhere=everywhere, limit=limit)


@pytest.fixture
def store() -> SessionStore:
    return SessionStore()


@pytest.fixture
def three(store: SessionStore) -> dict[str, Conversation]:
    """Three sessions: the newest, one from two hours ago, one from three days ago."""
    return {
        "kernel": save(store, "Kernel fusion notes", updated_ago=300, model="Qwen/Qwen3-8B",
                       texts=("how do I fuse kernels", "like this")),
        "rust": save(store, "Rust lifetimes question", updated_ago=2 * 3600, model="openai/gpt-oss-20b",
                     texts=("why does the borrow checker complain", "because of zanzibar rules",
                            "thanks", "you are welcome")),
        "trip": save(store, "Plan a trip to Lisbon", updated_ago=3 * 86400, model="meta-llama/Llama-3.1-8B",
                     texts=("three days in lisbon", "go to Belém")),
    }


# --- listing ------------------------------------------------------------------------


async def test_sessions_are_listed_newest_first_with_title_model_count_and_relative_date(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    async with browser(store) as (app, pilot, screen):
        assert session_ids(screen) == [three["kernel"].id, three["rust"].id, three["trip"].id]
        await wait_for_text(pilot, app, "Kernel fusion notes", "Rust lifetimes question", "Plan a trip to Lisbon",
                            "gpt-oss-20b", "4 msgs", "2 msgs", "5 min ago", "2 h ago", "3 saved")


async def test_the_highlighted_row_shows_its_full_dates_and_preview_in_the_detail_line(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    async with browser(store) as (app, pilot, screen):
        await pilot.press("down")
        assert highlighted(screen) == three["rust"].id
        # The preview is the last message.
        await wait_for_text(pilot, app, f"Updated {absolute_time(three['rust'].updated_at)}", "you are welcome")


async def test_a_session_changed_after_the_list_was_read_shows_up_next_time(store: SessionStore) -> None:
    save(store, "First", updated_ago=100)
    async with browser(store) as (_app, _pilot, screen):
        assert [s.title for s in screen.summaries] == ["First"]
    SessionStore().save(Conversation(title="From another window"))
    async with browser(store) as (_app, _pilot, screen):
        assert [s.title for s in screen.summaries] == ["From another window", "First"]


async def test_with_no_sessions_a_friendly_line_is_shown_and_keys_do_nothing_harmful(store: SessionStore) -> None:
    async with browser(store) as (app, pilot, _screen):
        await wait_for_text(pilot, app, "No saved conversations yet")
        await pilot.press("enter", "f2", "f8", "down", "end")
        assert isinstance(app.screen, SessionBrowserScreen) and app.results == []
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.results == [None])


async def test_a_sessions_folder_that_cant_be_read_is_reported_in_the_browser(tmp_path: Path) -> None:
    root = tmp_path / "sessions"
    root.write_text("a file where the sessions folder should be")
    store = SessionStore(root)
    async with browser(store) as (app, pilot, _screen):
        await wait_for_text(pilot, app, "can't list sessions")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.results == [None])


# --- filtering ----------------------------------------------------------------------


async def test_typing_filters_by_title_at_once_without_waiting_for_the_message_search(
        three: dict[str, Conversation]) -> None:
    store = GatedStore()
    async with browser(store) as (_app, pilot, screen):
        await type_filter(pilot, "lis")
        assert session_ids(screen) == [three["trip"].id]
        assert highlighted(screen) == three["trip"].id
        await type_filter(pilot, "bon")
        assert session_ids(screen) == [three["trip"].id]
        await pilot.press("ctrl+u")
        assert session_ids(screen) == [three["kernel"].id, three["rust"].id, three["trip"].id]
        store.gate.set()


async def test_matches_inside_messages_come_from_a_worker_and_are_listed_below_title_matches(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    gated = GatedStore()
    save(gated, "Zanzibar travel notes", updated_ago=10 * 86400)
    async with browser(gated) as (app, pilot, screen):
        await type_filter(pilot, "zanzibar")
        assert [screen._summary(i).title for i in session_ids(screen)] == ["Zanzibar travel notes"]
        await wait_until(pilot, lambda: gated.searched, message="the search to start")
        await wait_for_text(pilot, app, "searching inside messages")
        gated.gate.set()
        await wait_until(pilot, lambda: not screen.searching, message="the search to finish")
        await wait_until(pilot, lambda: [screen._summary(i).title for i in session_ids(screen)] == [
            "Zanzibar travel notes", "Rust lifetimes question"])
        ids = row_ids(screen)
        assert ids.index(None) == 1, "a rule separates title matches from matches in messages"
        await wait_for_text(pilot, app, "found in messages")


async def test_a_newer_keystroke_wins_over_an_older_slower_search(three: dict[str, Conversation]) -> None:
    store = GatedStore()
    async with browser(store) as (app, pilot, screen):
        await type_filter(pilot, "zanzibar")
        await wait_until(pilot, lambda: store.searched, message="the first search to start")
        await type_filter(pilot, "xyz")
        store.gate.set()
        await wait_until(pilot, lambda: not screen.searching, message="the last search to finish")
        await app.workers.wait_for_complete()
        await wait_for_text(pilot, app, "Nothing matches “zanzibarxyz”")
        assert store.searched[-1] == "zanzibarxyz"
        assert session_ids(screen) == []


async def test_a_match_inside_messages_shows_a_snippet_with_the_words_in_the_detail_line(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    async with browser(store) as (app, pilot, screen):
        await type_filter(pilot, "zanzibar rul")
        await wait_until(pilot, lambda: not screen.searching and session_ids(screen), message="the hits")
        assert session_ids(screen) == [three["rust"].id]
        await wait_until(pilot, lambda: "reply: because of zanzibar rules" in screen_text(app),
                         message="the snippet in the detail line")


async def test_opening_brings_an_existing_search_index_up_to_date_in_the_background(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    store.search("zanzibar")  # a search made the index earlier
    later = save(SessionStore(), "From another window", updated_ago=10, texts=("platypus facts", "indeed"))

    def indexed() -> bool:
        with contextlib.closing(sqlite3.connect(store.root / INDEX_FILE)) as conn:
            return conn.execute("SELECT 1 FROM files WHERE name = ?", (f"{later.id}.json",)).fetchone() is not None

    assert not indexed()
    async with browser(store) as (_app, pilot, _screen):
        await wait_until(pilot, indexed, message="the other window's session indexed before any search")


async def test_hits_inside_messages_are_ranked_best_first(store: SessionStore) -> None:
    once = save(store, "A", updated_ago=60, texts=("we met a quokka once", "ok"))
    often = save(store, "B", updated_ago=7200, texts=("quokka quokka", "quokka, quokka and more quokka"))
    async with browser(store) as (_app, pilot, screen):
        await type_filter(pilot, "quokka")
        await wait_until(pilot, lambda: not screen.searching and len(session_ids(screen)) == 2, message="hits")
        assert session_ids(screen) == [often.id, once.id], "the one that says it most comes first"


async def test_f3_switches_searching_reasoning_and_tool_results(store: SessionStore) -> None:
    conv = Conversation(title="Thinking out loud", updated_at=time.time())
    conv.messages = [Message(role="user", content="q"),
                     Message(role="assistant", content="a", reasoning="consider the platypus")]
    store.save(conv)
    async with browser(store) as (app, pilot, screen):
        await wait_for_text(pilot, app, "f3 reasoning & tools: on")
        await type_filter(pilot, "platypus")
        await wait_until(pilot, lambda: not screen.searching and session_ids(screen) == [conv.id],
                         message="found in the reasoning")
        await wait_until(pilot, lambda: "reasoning: consider the platypus" in screen_text(app))
        await pilot.press("f3")
        await wait_until(pilot, lambda: "f3 reasoning & tools: off" in screen_text(app))
        await wait_until(pilot, lambda: not screen.searching and session_ids(screen) == [],
                         message="not found in what was said")
        await pilot.press("f3")
        await wait_until(pilot, lambda: not screen.searching and session_ids(screen) == [conv.id])


class SlowListStore(SessionStore):
    """A real store whose listing waits until the test lets it finish."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = threading.Event()

    def list(self) -> Any:
        self.gate.wait(timeout=30)
        return super().list()


async def test_what_is_typed_while_the_list_loads_filters_it_once_loaded(three: dict[str, Conversation]) -> None:
    store = SlowListStore()
    chat = chat_on(store)
    app = Host(lambda: SessionBrowserScreen(chat))
    async with app.run_test(size=(120, 36)) as pilot:
        screen = await wait_until(pilot, lambda: isinstance(app.screen, SessionBrowserScreen) and app.screen)
        await pilot.pause()
        await type_filter(pilot, "zanzibar")
        assert not screen.loaded and session_ids(screen) == []
        store.gate.set()
        await wait_until(pilot, lambda: screen.loaded and not screen.searching, message="load and search")
        # Found inside its messages.
        await wait_until(pilot, lambda: session_ids(screen) == [three["rust"].id])


async def test_unreadable_files_are_hidden_while_filtering(store: SessionStore, three: dict[str, Conversation]) -> None:
    (store.root / "broken.json").write_text("{ not json")
    async with browser(store) as (_app, pilot, screen):
        assert any(i and i.startswith(UNREADABLE_PREFIX) for i in row_ids(screen))
        await type_filter(pilot, "k")
        assert not any(i and i.startswith(UNREADABLE_PREFIX) for i in row_ids(screen))


async def test_arrows_page_keys_home_and_end_move_the_list_while_the_filter_keeps_the_focus(
        store: SessionStore) -> None:
    convs = [save(store, f"Session {n:02d}", updated_ago=n * 60 + 60) for n in range(40)]
    async with browser(store, size=(120, 30)) as (app, pilot, screen):
        box = screen.filter_box
        assert app.focused is box
        assert highlighted(screen) == convs[0].id
        await pilot.press("down", "down")
        assert highlighted(screen) == convs[2].id
        await pilot.press("pagedown")
        after_page = session_ids(screen).index(highlighted(screen))
        assert after_page > 5
        await pilot.press("pageup")
        assert session_ids(screen).index(highlighted(screen)) < after_page
        await pilot.press("end")
        assert highlighted(screen) == convs[-1].id
        await pilot.press("home")
        assert highlighted(screen) == convs[0].id
        await pilot.press("up")
        assert highlighted(screen) == convs[-1].id, "up from the top wraps to the bottom"
        await type_filter(pilot, "session 3")
        assert app.focused is box and box.value == "session 3"
        assert session_ids(screen) == [c.id for c in convs[30:40]]


# --- opening ------------------------------------------------------------------------


async def test_enter_opens_the_highlighted_session(store: SessionStore, three: dict[str, Conversation]) -> None:
    async with browser(store) as (app, pilot, _screen):
        await pilot.press("down", "down", "enter")
        await wait_until(pilot, lambda: app.results == [("open", three["trip"].id)])


async def test_enter_on_a_filtered_match_opens_it(store: SessionStore, three: dict[str, Conversation]) -> None:
    async with browser(store) as (app, pilot, _screen):
        await type_filter(pilot, "rust")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.results == [("open", three["rust"].id)])


async def test_enter_on_the_open_conversation_just_closes_and_escape_closes(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    async with browser(store, current_id=three["kernel"].id) as (app, pilot, _screen):
        await wait_for_text(pilot, app, "● Kernel fusion notes", "open now")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.results == [None])
    async with browser(store) as (app, pilot, _screen):
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.results == [None])


async def test_clicking_a_row_opens_it(store: SessionStore, three: dict[str, Conversation]) -> None:
    async with browser(store) as (app, pilot, _screen):
        await pilot.click("#sessions-list", offset=(10, 1))
        await wait_until(pilot, lambda: app.results == [("open", three["rust"].id)])


# --- renaming -----------------------------------------------------------------------


async def test_f2_renames_the_file_and_the_row_in_place(store: SessionStore, three: dict[str, Conversation]) -> None:
    rust = three["rust"]
    async with browser(store) as (app, pilot, screen):
        await pilot.press("down", "f2")
        rename = await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen) and app.screen)
        box = rename.query_one(Input)
        assert box.value == "Rust lifetimes question"
        await type_filter(pilot, "Borrow checker woes")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        await wait_for_text(pilot, app, "Borrow checker woes", absent=["Rust lifetimes question"])
        assert SessionStore().load(rust.id).title == "Borrow checker woes"
        assert session_ids(screen) == [three["kernel"].id, rust.id, three["trip"].id], "order unchanged"
        assert highlighted(screen) == rust.id
        await wait_for_text(pilot, app, "Borrow checker woes", absent=["Rust lifetimes question"])


async def test_renaming_the_open_conversation_renames_it_in_the_app_too(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    kernel = three["kernel"]
    async with browser(store, current_id=kernel.id) as (app, pilot, screen):
        await pilot.press("f2")
        await wait_for_screen(pilot, app, RenameScreen)
        await type_filter(pilot, "Fused")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        assert app.chat.conversation.title == "Fused", "the next autosave keeps the new title"
        assert SessionStore().load(kernel.id).title == "Fused"


async def test_escape_in_the_rename_box_keeps_the_title_and_an_empty_title_is_refused(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    kernel = three["kernel"]
    async with browser(store) as (app, pilot, screen):
        await pilot.press("f2")
        rename = await wait_until(pilot, lambda: isinstance(app.screen, RenameScreen) and app.screen)
        await pilot.press("backspace", "enter")  # the title was selected: backspace empties it
        await wait_for_text(pilot, app, "can't be empty")
        assert app.screen is rename
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.screen is screen)
        assert SessionStore().load(kernel.id).title == "Kernel fusion notes"


async def test_renaming_a_session_deleted_by_another_window_says_so(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    async with browser(store) as (app, pilot, screen):
        SessionStore().delete(three["kernel"].id)
        await pilot.press("f2")
        await wait_for_screen(pilot, app, RenameScreen)
        await type_filter(pilot, "New")
        await pilot.press("enter")
        await wait_until(pilot, lambda: app.screen is screen)
        await wait_for_text(pilot, app, "Can't rename: no session")


# --- deleting -----------------------------------------------------------------------


async def test_f8_then_y_deletes_the_file_and_the_row(store: SessionStore, three: dict[str, Conversation]) -> None:
    rust = three["rust"]
    path = store.path_for(rust.id)
    async with browser(store) as (app, pilot, screen):
        await pilot.press("down", "f8")
        confirm = await wait_until(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen)
        await wait_for_text(pilot, app, "Delete “Rust lifetimes question”?")
        await wait_until(pilot, lambda: app.focused is confirm.query_one("#confirm-no-button"))
        await pilot.press("y")
        await wait_until(pilot, lambda: app.screen is screen)
        await wait_for_text(pilot, app, "2 saved")
        assert not path.exists()
        assert session_ids(screen) == [three["kernel"].id, three["trip"].id]
        assert highlighted(screen) == three["trip"].id, "the highlight moves to the next row"


@pytest.mark.parametrize("answer", ["n", "escape", "enter"])
async def test_answering_no_keeps_the_file(store: SessionStore, three: dict[str, Conversation], answer: str) -> None:
    path = store.path_for(three["trip"].id)
    content = path.read_bytes()
    async with browser(store) as (app, pilot, screen):
        await pilot.press("end", "f8")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await pilot.press(answer)
        await wait_until(pilot, lambda: app.screen is screen)
        assert path.read_bytes() == content
        assert three["trip"].id in session_ids(screen)


async def test_the_open_conversation_cant_be_deleted_here(store: SessionStore, three: dict[str, Conversation]) -> None:
    kernel = three["kernel"]
    async with browser(store, current_id=kernel.id) as (app, pilot, screen):
        await pilot.press("f8")
        await wait_for_text(pilot, app, "This is the open conversation: start a new one first")
        assert app.screen is screen, "no confirmation is even asked"
        assert store.path_for(kernel.id).exists()


@pytest.mark.parametrize(("button", "answer"), [("#confirm-yes-button", True), ("#confirm-no-button", False)])
async def test_the_confirmation_buttons_answer_when_clicked(button: str, answer: bool) -> None:
    app = Host(lambda: ConfirmScreen("Discard the draft?", "Discard", "Keep"))
    async with app.run_test(size=(80, 20)) as pilot:
        await wait_for_screen(pilot, app, ConfirmScreen)
        await wait_for_text(pilot, app, "y discard · n / esc keep")
        await pilot.click(button)
        await wait_until(pilot, lambda: app.results == [answer])

# --- unreadable files ----------------------------------------------------------------


async def test_unreadable_files_are_listed_last_with_the_reason_and_never_touched(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    broken = store.root / "broken.json"
    broken.write_text("{ not json")
    newer = store.root / "newer.json"
    newer.write_text('{"schema_version": 99, "id": "newer", "messages": []}')
    before = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (broken, newer)}
    async with browser(store) as (app, pilot, screen):
        ids = row_ids(screen)
        assert ids[:3] == [three["kernel"].id, three["rust"].id, three["trip"].id]
        assert ids[3] is None, "a rule introduces the unreadable files"
        assert ids[4:] == [UNREADABLE_PREFIX + "broken.json", UNREADABLE_PREFIX + "newer.json"]
        await wait_for_text(pilot, app, "can't be read", "not valid JSON", "newer vllm-chat")
        await pilot.press("end")
        assert highlighted(screen) == UNREADABLE_PREFIX + "newer.json"
        await wait_for_text(pilot, app, "newer.json in /")  # the detail line says where the file is
        for key, what in (("enter", "opened"), ("f2", "renamed"), ("f8", "deleted")):
            await pilot.press(key)
            await wait_for_text(pilot, app, f"so it can't be {what} here; vllm-chat never changes it")
            assert app.screen is screen and app.results == []
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in (broken, newer)} == before


# --- keys ---------------------------------------------------------------------------


def test_rename_and_delete_keys_dont_clash_with_the_filter_box_keys() -> None:
    taken = {key.strip() for b in Input.BINDINGS for key in b.key.split(",")}  # type: ignore[union-attr]
    ours = {b.id: b for b in SessionBrowserScreen.BINDINGS}  # type: ignore[union-attr]
    for binding_id in ("rename-session", "delete-session", "close-sessions"):
        keys = {k.strip() for k in ours[binding_id].key.split(",")}
        assert not keys & taken, f"{binding_id} uses a key the filter box needs"
    ids = [b.id for b in SessionBrowserScreen.BINDINGS]  # type: ignore[union-attr]
    assert all(ids) and len(ids) == len(set(ids))


async def test_the_hint_line_shows_the_keys_in_force_after_a_keymap(
        store: SessionStore, three: dict[str, Conversation]) -> None:
    async with browser(store) as (app, pilot, _screen):
        await wait_for_text(pilot, app, "enter open · f2 rename · f8 delete", "esc close")
    chat = chat_on(store)
    app = Host(lambda: SessionBrowserScreen(chat))
    app.set_keymap({"rename-session": "ctrl+r"})
    async with app.run_test(size=(120, 36)) as pilot:
        await wait_until(pilot, lambda: isinstance(app.screen, SessionBrowserScreen) and app.screen.loaded)
        await wait_for_text(pilot, app, "ctrl+r rename")
        await pilot.press("ctrl+r")
        await wait_for_screen(pilot, app, RenameScreen)


# --- words for times ------------------------------------------------------------------


def at(*parts: int) -> float:
    return datetime(*parts).timestamp()


@pytest.mark.parametrize(("then", "now", "expected"), [
    (at(2024, 3, 12, 14, 0, 0), at(2024, 3, 12, 14, 0, 30), "just now"),
    (at(2024, 3, 12, 14, 0), at(2024, 3, 12, 14, 5), "5 min ago"),
    (at(2024, 3, 12, 9, 0), at(2024, 3, 12, 14, 30), "5 h ago"),
    (at(2024, 3, 11, 23, 0), at(2024, 3, 12, 1, 0), "2 h ago"),
    (at(2024, 3, 11, 9, 0), at(2024, 3, 12, 14, 0), "yesterday"),
    (at(2024, 3, 8, 9, 0), at(2024, 3, 12, 14, 0), "Friday"),
    (at(2024, 1, 2, 9, 0), at(2024, 3, 12, 14, 0), "2 Jan"),
    (at(2023, 12, 30, 9, 0), at(2024, 3, 12, 14, 0), "30 Dec 2023"),
    (at(2024, 5, 1, 9, 0), at(2024, 3, 12, 14, 0), "1 May"),
])
def test_dates_read_like_a_person_would_say_them(then: float, now: float, expected: str) -> None:
    assert relative_time(then, now) == expected


def test_the_absolute_date_gives_day_date_and_time() -> None:
    assert absolute_time(at(2024, 3, 12, 14, 5)) == "Tue 12 Mar 2024, 14:05"

