"""ConfirmScreen: a yes/no question before something that can't be undone, or an offer.

An offer the app makes by itself (after a failed turn) is `guarded`: it takes
no key until the user moves to it (see `typing_guard.py`), so a "y" typed into
the prompt never accepts it.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Static

from vllm_chat.core.text import inert
from vllm_chat.ui.keys import key_hint, with_keys
from vllm_chat.ui.screens.typing_guard import GuardedDialog


class ConfirmScreen(GuardedDialog[bool]):
    """Asks `question`; y (or the yes button) gives True, n / Esc (or the no button) False.

    The no button has the focus when the dialog opens, so a stray Enter keeps
    things as they are.
    """

    DEFAULT_CSS = """
    ConfirmScreen {
        & > Vertical {
            width: 64;
        }
        &.-destructive > Vertical { border: round $error; }
        & .question { text-style: bold; color: $primary; }
        &.-destructive .question { color: $error; }
        & .detail { color: $text-muted; }
        & Horizontal { height: auto; align-horizontal: right; margin: 1 0 0 0; }
        & Button { margin: 0 0 0 2; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm-yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm-no"),
        Binding("left,right", "app.focus_next", "Other button", show=False, id="confirm-switch"),
    ]

    def __init__(self, question: str, yes_label: str = "Yes", no_label: str = "No", *,
                 detail: str = "", destructive: bool = False, guarded: bool = False) -> None:
        """`question` ends with a question mark; `detail` says what will happen (optional);
        `destructive` draws the dialog in the error colour; `guarded` for a dialog the app
        opens by itself (keys go on to the prompt until the user moves to it)."""
        super().__init__(guarded=guarded, classes="-destructive" if destructive else None)
        self.question = question
        """What is asked (shown as plain text, never as markup)."""
        self.yes_label = yes_label
        """The label of the button that answers True (e.g. "Delete")."""
        self.no_label = no_label
        """The label of the button that answers False (e.g. "Keep")."""
        self.detail = detail
        """A line under the question saying what will happen."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(Text(inert(self.question)), classes="question")
            if self.detail:
                yield Static(Text(inert(self.detail)), classes="detail")
            with Horizontal():
                yield Button(Content(self.yes_label), variant="error" if self.has_class("-destructive")
                             else "primary", compact=True, id="confirm-yes-button")
                yield Button(Content(self.no_label), compact=True, id="confirm-no-button")
            yield Static(self._hint_text(), classes="hint")

    def _hint_text(self) -> Text:
        if not self.armed:
            return Text(with_keys(self.app, "Press {answer-dialog} (or click here) to answer; until then your "
                                            "typing goes on into the prompt."))
        return Text(f"{key_hint(self.app, 'confirm-yes')} {self.yes_label.lower()} · "
                    f"{key_hint(self.app, 'confirm-no')} {self.no_label.lower()}")

    def on_armed(self) -> None:
        self.query_one("#confirm-no-button", Button).focus()
        if self.is_mounted:
            self.query_one(".hint", Static).update(self._hint_text())

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "confirm-yes-button")

    def action_answer(self, yes: bool) -> None:
        """Close the dialog with this answer."""
        self.dismiss(yes)
