"""GuardedDialog: a dialog that opens by itself never takes keys meant for the prompt.

A tool approval (or an offer after a failed turn) can appear while the user is
typing the next message; typing is normal while a model works. Such a dialog
starts *unanswered*: every key goes on into the prompt underneath (letters,
Enter, backspace, ctrl+u, a paste), so "banana" typed 0.8 s after sending
stays "banana" and approves nothing. Answering takes a deliberate act that no
typing contains: {answer-dialog} (tab), or a click on the dialog. No timer
arms it: a pause in typing is not a decision. Only the bindings the dialog
lets through unanswered (`UNGUARDED_BINDINGS`, e.g. Esc to stop the turn,
which means the same in the prompt) act at once.

A dialog opened by the user's own key (`guarded=False`) takes keys at once.
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import events
from textual.binding import Binding, BindingType
from textual.reactive import reactive

from vllm_chat.ui.screens.dialog import Dialog
from vllm_chat.ui.widgets.prompt_input import PromptInput

ResultType = TypeVar("ResultType")


class GuardedDialog(Dialog[ResultType]):
    """A dialog that takes answers only after {answer-dialog} or a click when `guarded`."""

    DEFAULT_CSS = """
    GuardedDialog.-waiting > Vertical { border: round $panel-lighten-2; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("tab", "arm", "Answer", id="answer-dialog"),
    ]

    UNGUARDED_BINDINGS: ClassVar[frozenset[str]] = frozenset({"answer-dialog"})
    """Ids of the bindings that work before the dialog is answered (subclasses add e.g. stop)."""

    armed: reactive[bool] = reactive(True, init=False)
    """Whether the dialog takes its answer keys (False until the user moves to it)."""

    def __init__(self, *, guarded: bool = False, classes: str | None = None) -> None:
        super().__init__(classes=classes)
        self.set_reactive(GuardedDialog.armed, not guarded)
        self.set_class(guarded, "-waiting")

    def on_mount(self) -> None:
        if self.armed:
            self.on_armed()

    def action_arm(self) -> None:
        """Move to the dialog: from now on its keys answer it."""
        self.armed = True

    def watch_armed(self, armed: bool) -> None:
        self.set_class(not armed, "-waiting")
        if armed:
            self.on_armed()

    def on_armed(self) -> None:
        """The dialog takes its keys now (at mount when not guarded): e.g. focus a button,
        change the hint. Subclasses override it."""

    # -- keys while unanswered ------------------------------------------------------------------

    def _bound_ids(self, key: str) -> set[str]:
        """The ids of this dialog's bindings for `key`, as the keymap binds them."""
        bindings = self._bindings.copy()
        keymap = getattr(self.app, "_keymap", None)
        if keymap:
            bindings.apply_keymap(keymap)
        return {b.id for b in bindings.key_to_bindings.get(key, ()) if b.id}

    def _typing_target(self) -> PromptInput | None:
        """The prompt the user was typing in: the focused prompt of the screen below."""
        stack = self.app.screen_stack
        if self not in stack or stack.index(self) == 0:
            return None
        below = stack[stack.index(self) - 1]
        focused = below.focused
        return focused if isinstance(focused, PromptInput) else None

    async def _on_key(self, event: events.Key) -> None:
        # Runs before the dialog's bindings are looked at (they are checked only once the key
        # has bubbled past the screen), so a stopped key never answers.
        if self.armed:
            return
        ids = self._bound_ids(event.key)
        if "answer-dialog" in ids:
            # Armed here, not by the binding: a binding runs only once the key has bubbled up
            # to the app, and a key typed right after (tab, y in one burst) would get here first.
            event.stop()
            event.prevent_default()
            self.armed = True
            return
        if ids & self.UNGUARDED_BINDINGS:
            return
        event.stop()
        event.prevent_default()
        target = self._typing_target()
        if target is not None:
            await target.take_key(event)

    def _on_paste(self, event: events.Paste) -> None:
        if self.armed:
            return
        event.stop()
        event.prevent_default()
        target = self._typing_target()
        if target is not None:
            target.take_paste(event.text)

    def on_click(self, event: events.Click) -> None:
        if not self.armed:
            event.stop()
            self.armed = True
