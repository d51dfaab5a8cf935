"""PromptInput: the multi-line prompt. Enter sends, ctrl+j (or shift+enter) adds a line.

↑ on an empty prompt walks back through earlier prompts (and ↓ forward); once
the user edits a recalled prompt it is a new draft. Pasting works as in any
TextArea (bracketed paste, any length). While the chat screen shows
suggestions for the word being typed (`completions`: files after `@`, saved
prompts after `/`), their keys go to the list and the rest into the text.

Editing keys (backspace, ctrl+u, ctrl+w, arrows...) act when they arrive, in
order with the typed text, even while the app is busy; and keys typed while a
dialog that opened by itself waits (see `screens/typing_guard.py`) arrive here
through `take_key` / `take_paste`, so no typing is lost.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea

from vllm_chat.core.history import PromptHistory
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.widgets.completion_list import CompletionList

PLACEHOLDER = "Message — {send} sends · {newline:first} new line · ↑ earlier prompts · {attach-file} attach a file"
"""What the empty prompt says, with the keys as the keymap has them (↑ is the text box's own)."""


class PromptInput(TextArea):
    """The text box the user writes prompts in."""

    DEFAULT_CSS = """
    PromptInput {
        height: auto;
        min-height: 3;
        max-height: 12;
        border: round $panel;
        padding: 0 1;
        &:focus { border: round $primary; }
    }
    """

    # These two, and every editing binding of TextArea, are handled in `_on_key`,
    # in order with the typed text. As bindings they would run out of order: a
    # priority binding runs as soon as the key reaches the app, ahead of keys still
    # queued for this widget ("hi⏎" typed fast sends an empty prompt), and an
    # ordinary one only after the key has bubbled up, behind keys typed later
    # (ctrl+u on a busy app deleted what was typed after it). They stay declared
    # here for the footer, the help screen and the keymap.
    BINDINGS = [
        Binding("enter", "submit", "Send", id="send"),
        Binding("ctrl+j,shift+enter", "newline", "Newline", show=False, id="newline"),
    ]

    @dataclass
    class Submitted(Message):
        """The user pressed Enter on a non-empty prompt."""

        prompt_input: PromptInput
        text: str

        @property
        def control(self) -> PromptInput:
            return self.prompt_input

    @dataclass
    class EmptySubmitted(Message):
        """The user pressed Enter on an empty prompt (nothing is sent from the box)."""

        prompt_input: PromptInput

    @dataclass
    class CompletionChosen(Message):
        """The user took a suggestion from the list (`value` goes after the `@` or `/`)."""

        prompt_input: PromptInput
        value: str

    @dataclass
    class PastedPath(Message):
        """A single pasted line looks like a file path or media URL (to attach)."""

        prompt_input: PromptInput
        text: str

    def __init__(self, history: PromptHistory | None = None, **kwargs: Any) -> None:
        super().__init__(soft_wrap=True, tab_behavior="focus", show_line_numbers=False,
                         highlight_cursor_line=False, **kwargs)
        # Not `history`: TextArea uses that name for its undo history.
        self.prompt_history = history or PromptHistory(None)
        """Earlier prompts, oldest first."""
        self._recall: int | None = None
        self._recalled_text = ""
        self.completions: CompletionList | None = None
        """The suggestions shown for the word being typed (set by the screen that shows them)."""

    def on_mount(self) -> None:
        self.placeholder = with_keys(self.app, PLACEHOLDER)
        if self.app.is_headless:
            self.cursor_blink = False

    def _keys_for(self, binding_id: str, owner: type | None = None) -> set[str]:
        keymap = getattr(self.app, "_keymap", {}) or {}
        for binding in (owner or type(self)).BINDINGS:
            if isinstance(binding, Binding) and binding.id == binding_id:
                return {k.strip() for k in keymap.get(binding_id, binding.key).split(",")}
        return set()

    def _completion_key(self, key: str) -> bool:
        """Apply `key` to the open suggestions if it is one of theirs; True if it was."""
        completions = self.completions
        if completions is None or not completions.is_open:
            return False
        if key in self._keys_for("complete-insert", CompletionList):
            chosen = completions.chosen
            completions.offer(None)
            if chosen is not None:
                self.post_message(self.CompletionChosen(self, chosen))
        elif key in self._keys_for("complete-next", CompletionList):
            completions.step(1)
        elif key in self._keys_for("complete-previous", CompletionList):
            completions.step(-1)
        elif key in self._keys_for("complete-close", CompletionList):
            completions.offer(None)
        else:
            return False
        return True

    # Textual calls `_on_key` / `_on_paste` of every class in the MRO in turn,
    # until one prevents the default; so these never call super().

    async def _on_key(self, event: events.Key) -> None:
        keys = getattr(self.app, "keys_in_flight", None)
        if keys is not None:
            keys.handled(event)  # the text area's own handler, next in line, applies it now
        if self._completion_key(event.key) or await self._act_on(event.key):
            event.stop()
            event.prevent_default()
        elif event.key.startswith("alt+") and event.is_printable:
            # A terminal sends alt+n as ESC n, which arrives with "n" as its character: the
            # text area would type it. It is a key for the screen's bindings, never text.
            event.prevent_default()

    async def _act_on(self, key: str) -> bool:
        """Run what `key` is bound to in this widget (send, newline, an editing key), now;
        False when it is bound to nothing here."""
        if key in self._keys_for("send"):
            self.action_submit()
            return True
        if key in self._keys_for("newline"):
            self.action_newline()
            return True
        bindings = self._bindings.copy()
        keymap = getattr(self.app, "_keymap", None)
        if keymap:
            bindings.apply_keymap(keymap)
        for binding in bindings.key_to_bindings.get(key, ()):
            if binding.id not in ("send", "newline") and await self.app.run_action(binding.action, self):
                return True
        return False

    async def take_key(self, event: events.Key) -> None:
        """Apply a key that arrived elsewhere (a dialog not yet answered) as if typed here,
        except the send key: nothing is sent while a question waits, the text stays."""
        if event.key in self._keys_for("send"):
            return
        if self._completion_key(event.key) or await self._act_on(event.key):
            return
        if event.is_printable and event.character and not event.key.startswith("alt+"):
            self.insert(event.character)

    def take_paste(self, text: str) -> None:
        """Insert pasted text that arrived elsewhere (a dialog not yet answered)."""
        paste = events.Paste(text)
        paste.stop()  # handled here only: bubbling up, the app would hand it to the dialog again
        self.post_message(paste)

    def action_submit(self) -> None:
        """Send the text: it is remembered and the box cleared now, in order with the
        keys typed after Enter (a receiver that can't send puts it back)."""
        text = self.text
        if not text.strip():
            self.post_message(self.EmptySubmitted(self))  # e.g. "send the prompts that wait"
            return
        self.prompt_history.add(text)
        self._recall = None
        self.clear()
        self.post_message(self.Submitted(self, text))

    def action_newline(self) -> None:
        self.insert("\n")

    def load_text(self, text: str) -> None:
        """Replace the text; control characters become visible (a text box draws them raw,
        and a recalled or edited prompt may come from a session file)."""
        super().load_text(inert(text))

    def restore(self, text: str) -> None:
        """Put back a prompt that could not be sent; what was typed since (while a dialog
        about it waited) goes after it, so neither is lost."""
        typed = self.text
        if typed == text:
            return
        self.load_text(text + (f"\n{typed}" if typed.strip() else ""))
        self.move_cursor(self.document.end)

    # -- history ------------------------------------------------------------------

    def _browsing(self) -> bool:
        """True while the box shows a recalled prompt the user has not edited; ↑ and ↓
        then keep walking the history, even through multi-line prompts."""
        return self._recall is not None and self.text == self._recalled_text

    def action_cursor_up(self, select: bool = False) -> None:
        if not select and (not self.text or self._browsing()):
            self._step_history(-1)
            return
        super().action_cursor_up(select)

    def action_cursor_down(self, select: bool = False) -> None:
        if not select and self._browsing():
            self._step_history(+1)
            return
        super().action_cursor_down(select)

    def _step_history(self, step: int) -> None:
        entries = self.prompt_history.entries
        if not entries:
            return
        index = len(entries) if self._recall is None else self._recall
        index += step
        if index < 0:
            return
        if index >= len(entries):
            self._recall = None
            self.load_text("")
            return
        self._recall = index
        self._recalled_text = entries[index]
        self.load_text(entries[index])
        self.move_cursor(self.document.end)

    async def _on_paste(self, event: events.Paste) -> None:
        if inert(event.text) != event.text:
            # A paste holding control characters (copied from a hostile page): shown, not obeyed.
            event.stop()
            event.prevent_default()
            self.insert(inert(event.text))
            return
        text = event.text.strip()
        if text and "\n" not in text and not self.text.strip():
            from vllm_chat.core.attachments import looks_like_attachment

            if looks_like_attachment(text):
                event.stop()
                event.prevent_default()  # TextArea's own paste handler won't insert it
                self.post_message(self.PastedPath(self, text))
