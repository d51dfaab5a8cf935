"""AttachmentBar: the attachments waiting to go with the next prompt, as removable chips.

It sits just above the prompt and is hidden while empty. Each chip names
the file (`cat.png · image · 1.2 MB · 640×480`) and has a ✕ to click. The
chips can take the focus (they come just before the prompt in tab order);
←/→ move between them and Delete or Backspace removes one. Adding
attachments never moves the focus, so the user keeps typing.

The bar holds what was prepared; the chat screen reads `attachments` when
the prompt is sent, then calls `clear()`.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import HorizontalScroll
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from vllm_chat.core.attachments import PreparedAttachment, describe
from vllm_chat.core.conversation import Attachment
from vllm_chat.core.text import inert

CHIP_WIDTH = 44
"""Widest chip, in columns; longer descriptions end with an ellipsis (the tooltip has all of it)."""
MIN_LABEL = 12
"""Narrowest a chip's text gets when many chips share the line (then the bar scrolls)."""
_CHIP_EXTRA = 4
"""Columns of a chip besides its text: the ✕ (3) and the gap after it (1)."""


class AttachmentChip(Widget, can_focus=True):
    """One pending attachment: its description and a ✕ that removes it."""

    # A click on the ✕ must leave the focus where it was (usually the prompt).
    FOCUS_ON_CLICK = False

    DEFAULT_CSS = """
    AttachmentChip {
        layout: horizontal;
        width: auto;
        height: 1;
        margin: 0 1 0 0;
        background: $panel;
        & > .label { width: auto; padding: 0 0 0 1; text-wrap: nowrap; text-overflow: ellipsis; }
        & > .remove { width: 3; content-align: center middle; color: $text-muted; }
        & > .remove:hover { color: $error; text-style: bold; }
        &:focus { background: $accent 30%; }
        &:focus > .label { text-style: bold; }
        &:focus > .remove { color: $text; }
    }
    """

    BINDINGS = [
        Binding("delete,backspace", "remove", "Remove", id="remove-attachment"),
        Binding("left", "step(-1)", "Previous", show=False, id="previous-attachment"),
        Binding("right", "step(1)", "Next", show=False, id="next-attachment"),
    ]

    class RemoveRequested(Message):
        """The user asked to remove this chip's attachment (the bar does it)."""

        def __init__(self, chip: AttachmentChip) -> None:
            super().__init__()
            self.chip = chip
            """The chip to remove."""

    class Step(Message):
        """The user wants the focus on a neighbouring chip."""

        def __init__(self, chip: AttachmentChip, offset: int) -> None:
            super().__init__()
            self.chip = chip
            """The chip focused now."""
            self.offset = offset
            """-1 for the chip on the left, 1 for the one on the right."""

    def __init__(self, prepared: PreparedAttachment) -> None:
        super().__init__()
        self.prepared = prepared
        """The attachment this chip stands for."""
        self.tooltip = inert(describe(prepared.attachment))

    @property
    def attachment(self) -> Attachment:
        """The attachment's model."""
        return self.prepared.attachment

    @property
    def label(self) -> str:
        """The chip's text, as shown (before any ellipsis)."""
        return inert(describe(self.attachment))

    def compose(self) -> ComposeResult:
        label = Static(Text(self.label, no_wrap=True, overflow="ellipsis"), classes="label")
        label.styles.max_width = CHIP_WIDTH - 3
        yield label
        yield Static("✕", classes="remove")

    def fit(self, label_width: int) -> None:
        """Show at most `label_width` columns of the text (the rest ends in an ellipsis)."""
        for label in self.query_children(".label"):
            label.styles.max_width = label_width

    def on_click(self, event: events.Click) -> None:
        event.stop()
        if event.widget is not None and event.widget.has_class("remove"):
            self.action_remove()
        else:
            self.focus()

    def action_remove(self) -> None:
        """Remove this attachment from the next message."""
        self.post_message(self.RemoveRequested(self))

    def action_step(self, offset: int) -> None:
        """Focus the chip on the left (-1) or right (1)."""
        self.post_message(self.Step(self, offset))


class AttachmentBar(HorizontalScroll):
    """The attachments for the next prompt, one chip each; hidden while there are none."""

    DEFAULT_CSS = """
    AttachmentBar {
        height: 1;
        margin: 0 0 0 1;
        scrollbar-size-horizontal: 0;
        display: none;
        &.-has-items { display: block; }
    }
    """

    class Changed(Message):
        """The pending attachments changed (added, removed or cleared)."""

        def __init__(self, bar: AttachmentBar, attachments: list[Attachment]) -> None:
            super().__init__()
            self.bar = bar
            """The bar that changed."""
            self.attachments = attachments
            """The attachments pending now, in order."""

        @property
        def control(self) -> AttachmentBar:
            """The bar that changed."""
            return self.bar

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._items: list[PreparedAttachment] = []

    @property
    def prepared(self) -> list[PreparedAttachment]:
        """The pending attachments with their stored paths, in order."""
        return list(self._items)

    @property
    def attachments(self) -> list[Attachment]:
        """The pending attachments' models, for `Message.attachments`."""
        return [item.attachment for item in self._items]

    @property
    def chips(self) -> list[AttachmentChip]:
        """The chips, left to right."""
        return list(self.query_children(AttachmentChip))

    def add(self, prepared: PreparedAttachment) -> bool:
        """Add an attachment; False (and nothing changes) if the same content is already
        there (`duplicate_of` says which)."""
        if self.duplicate_of(prepared) is not None:
            return False
        self._items.append(prepared)
        self.mount(AttachmentChip(prepared))
        self._changed()
        return True

    def remove(self, index: int) -> None:
        """Remove the attachment at `index` (out of range: nothing happens)."""
        if not 0 <= index < len(self._items):
            return
        chips = self.chips
        chip = chips[index] if index < len(chips) else None
        if chip is not None and chip.has_focus:
            self._move_focus_from(chip, chips)
        del self._items[index]
        if chip is not None:
            chip.remove()
        self._changed()

    def clear(self) -> None:
        """Remove every attachment (after the message was sent)."""
        if not self._items:
            return
        if any(chip.has_focus for chip in self.chips):
            self._focus_after_bar()
        self._items.clear()
        self.remove_children()
        self._changed()

    def _move_focus_from(self, chip: AttachmentChip, chips: list[AttachmentChip]) -> None:
        """Focus the chip next to the one going away; after the last one, what follows the bar."""
        index = chips.index(chip)
        if index + 1 < len(chips):
            chips[index + 1].focus()
        elif index > 0:
            chips[index - 1].focus()
        else:
            self._focus_after_bar()

    def _focus_after_bar(self) -> None:
        """Focus the first widget after the bar in tab order (the prompt, placed right below)."""
        chips = self.chips
        chain = self.screen.focus_chain
        if not chips or chips[-1] not in chain:
            return
        following = [w for w in chain[chain.index(chips[-1]) + 1:] if w not in chips]
        if following:
            following[0].focus()

    def duplicate_of(self, prepared: PreparedAttachment) -> Attachment | None:
        """The pending attachment with the same content as `prepared` (same stored file or
        URL, whatever its name), if there is one."""
        return next((item.attachment for item in self._items if _same(prepared.attachment, item.attachment)), None)

    def _changed(self) -> None:
        self.set_class(bool(self._items), "-has-items")
        self.call_after_refresh(self._fit_chips)
        self.post_message(self.Changed(self, self.attachments))

    def on_resize(self, event: events.Resize) -> None:
        self._fit_chips()

    def _fit_chips(self) -> None:
        """Share the line between the chips, so each keeps its ✕ in view (each chip's text
        gets an equal part, down to `MIN_LABEL`; past that the bar scrolls)."""
        chips = self.chips
        width = self.content_size.width
        if not chips or not width:
            return
        label_width = max(MIN_LABEL, min(CHIP_WIDTH - 3, width // len(chips) - _CHIP_EXTRA))
        for chip in chips:
            chip.fit(label_width)

    def on_attachment_chip_remove_requested(self, event: AttachmentChip.RemoveRequested) -> None:
        event.stop()
        chips = self.chips
        if event.chip in chips:
            self.remove(chips.index(event.chip))

    def on_attachment_chip_step(self, event: AttachmentChip.Step) -> None:
        event.stop()
        chips = self.chips
        if event.chip in chips:
            target = chips.index(event.chip) + event.offset
            if 0 <= target < len(chips):
                chips[target].focus()


def _same(a: Attachment, b: Attachment) -> bool:
    """The same content: the same stored file, or the same URL."""
    return (a.ref is not None and a.ref == b.ref) or (a.url is not None and a.url == b.url)
