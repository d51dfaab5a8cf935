"""RoomOffersScreen: a message that would not fit the context window, and the ways to make
room: compact, leave out the oldest turns, leave out attachments or tools, send anyway.

Keyboard-only: each way has its own key (from the keymap), and the list
answers ↑/↓ and Enter; Esc keeps the message for editing. It opens by itself
once the check after Enter is done, often while the user types on, so it is a
`GuardedDialog`: until {answer-dialog} (or a click) the typing goes on into the
prompt and no letter takes a way; Esc (nothing is sent) acts at once. Dismisses with the
kind of the chosen offer (`compact`, `drop`, `attachments`, `tools`, `send`),
or None.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from vllm_chat.core.context.fit import SendCheck
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import key_hint, with_keys
from vllm_chat.ui.screens.typing_guard import GuardedDialog

OFFER_BINDINGS = {
    "compact": "offer-compact",
    "drop": "offer-drop",
    "attachments": "offer-attachments",
    "tools": "offer-tools",
    "send": "offer-send",
}
"""The binding that takes each kind of offer."""


class RoomOffersScreen(GuardedDialog[str | None]):
    """Says how far over the window the message is and offers the ways out."""

    DEFAULT_CSS = """
    RoomOffersScreen {
        & > Vertical { width: 90; border: round $warning; }
        & .title { color: $warning; }
        & .explanation { margin: 1 0; }
        & OptionList { height: auto; max-height: 12; border: none; }
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "take('compact')", "Compact", id="offer-compact"),
        Binding("d", "take('drop')", "Leave out oldest", id="offer-drop"),
        Binding("a", "take('attachments')", "Without attachments", id="offer-attachments"),
        Binding("t", "take('tools')", "Without tools", id="offer-tools"),
        Binding("s", "take('send')", "Send anyway", id="offer-send"),
        Binding("escape", "take('')", "Keep editing", id="offer-cancel"),
    ]

    UNGUARDED_BINDINGS = frozenset({"answer-dialog", "offer-cancel"})

    def __init__(self, check: SendCheck, *, guarded: bool = True) -> None:
        super().__init__(guarded=guarded)
        self.check = check
        """The measurement and the offers."""

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static("Make room for this message?", classes="title", markup=False)
            yield Static(Text(inert(self.check.explanation())), classes="explanation", markup=False)
            keys = {o.kind: key_hint(self.app, OFFER_BINDINGS[o.kind], first_only=True) for o in self.check.offers}
            width = max((len(k) for k in keys.values()), default=1)
            yield OptionList(*[Option(Text(f"{keys[o.kind]:>{width}}  {with_keys(self.app, o.text)}"), id=o.kind)
                               for o in self.check.offers])
            yield Static(self._hint_text(), classes="hint", markup=False)

    def _hint_text(self) -> str:
        if not self.armed:
            return with_keys(self.app, "Press {answer-dialog} (or click here) to choose; until then your typing "
                                       "goes on into the prompt. {offer-cancel} keeps the message to edit it.")
        return with_keys(self.app, "enter or the key in front takes a way · {offer-cancel} keeps the "
                                   "message to edit it")

    def on_armed(self) -> None:
        self.query_one(OptionList).focus()
        self.query_one(".hint", Static).update(self._hint_text())

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if self.armed:
            self.dismiss(event.option.id)

    def action_take(self, kind: str) -> None:
        """Close with this offer (only one that is made), or '' for none."""
        if not kind:
            self.dismiss(None)
        elif not self.armed:
            return  # only reachable by a binding the guard let through by mistake: never answer
        elif any(offer.kind == kind for offer in self.check.offers):
            self.dismiss(kind)
