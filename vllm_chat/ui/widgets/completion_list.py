"""CompletionList: suggestions for the word being typed in the prompt — files after `@`,
saved prompts after `/` — shown right above it.

The prompt keeps the focus while the list is open: it passes the list's keys
(below) to it and every other key goes on into the text, so the list filters
as the user types. The keys are bindings with ids, so the help screen lists
them and `[keymap]` can move them, but the prompt applies them itself (in
order with the typed text).
"""

from __future__ import annotations

from rich.text import Text
from textual.binding import Binding
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from vllm_chat.core.session import Completion
from vllm_chat.core.text import inert


class CompletionList(OptionList, can_focus=False):
    """What could finish the word being typed in the prompt."""

    DEFAULT_CSS = """
    CompletionList {
        display: none;
        height: auto;
        max-height: 10;
        margin: 0 1;
        border: round $accent;
        background: $surface;
        &.-open { display: block; }
    }
    """

    BINDINGS = [
        Binding("tab,enter", "choose", "Insert the suggestion", show=False, id="complete-insert"),
        Binding("down", "step(1)", "Next suggestion", show=False, id="complete-next"),
        Binding("up", "step(-1)", "Previous suggestion", show=False, id="complete-previous"),
        Binding("escape", "close", "Close the suggestions", show=False, id="complete-close"),
    ]

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]  # OptionList's keyword arguments
        self.completion: Completion | None = None
        """What is offered now (None while the list is closed)."""

    @property
    def is_open(self) -> bool:
        """Whether the list is showing."""
        return self.completion is not None

    def offer(self, completion: Completion | None) -> None:
        """Show `completion`'s candidates (the best highlighted), or close for None."""
        self.completion = completion
        self.set_class(completion is not None, "-open")
        if completion is None:
            self.clear_options()
            return
        marker = "@" if completion.kind == "file" else "/"
        options = []
        for value, description in completion.items:
            label = Text(marker + inert(value), style="bold")
            if description:
                label.append("  " + inert(description), style="dim")
            options.append(Option(label, id=value))
        self.clear_options()
        self.add_options(options)
        self.highlighted = 0

    def step(self, by: int) -> None:
        """Move the highlight (wrapping round)."""
        if self.option_count:
            self.highlighted = ((self.highlighted or 0) + by) % self.option_count

    @property
    def chosen(self) -> str | None:
        """The highlighted candidate."""
        if self.highlighted is None or not self.option_count:
            return None
        return self.get_option_at_index(self.highlighted).id
