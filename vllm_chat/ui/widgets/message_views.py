"""The widgets for one message each: what the user wrote, what the model answered.

Each view is built from a `Message` of the conversation and can be rebuilt
from it at any time; during a turn the assistant view also takes the
streamed events. No text lives only in a widget. A message with other
versions (a regenerated reply, an edited prompt, another window's branch)
shows `‹ 2/3 ›`; ←/→ on the focused message move between the versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from vllm_chat.core import format as fmt
from vllm_chat.core.conversation import Message as ChatMessage
from vllm_chat.core.errors import ChatError
from vllm_chat.core.events import ToolCallDelta
from vllm_chat.core.logprobs import summary as logprobs_summary
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.widgets.markdown_view import MarkdownView
from vllm_chat.ui.widgets.reasoning_block import ReasoningBlock
from vllm_chat.ui.widgets.reply_check import CheckBadge, shown_text
from vllm_chat.ui.widgets.steady import steady_virtual_size
from vllm_chat.ui.widgets.tool_call_panel import ToolCallPanel


class MessageView(Vertical):
    """Base of the per-message views; `message` is the model it shows.

    A focused message answers single keys; each becomes an `ActionRequested`
    that the chat screen carries out (views only draw).
    """

    can_focus = True

    virtual_size = steady_virtual_size()
    """As Textual's, without the second layout it asks for (see `ui.widgets.steady`)."""

    BINDINGS = [
        Binding("up,k", "step(-1)", "Previous", show=False, id="message-previous"),
        Binding("down,j", "step(1)", "Next", show=False, id="message-next"),
        Binding("home,g", "step_to(0)", "First", show=False, id="message-first"),
        Binding("end,G", "step_to(-1)", "Last", show=False, id="message-last"),
        Binding("enter", "request('menu')", "Actions", id="message-actions"),
        Binding("c", "request('copy')", "Copy", id="copy-message"),
        Binding("b", "request('copy-code')", "Copy code", id="copy-code"),
        Binding("e", "request('edit')", "Edit", id="edit-message"),
        Binding("r", "request('regenerate')", "Regenerate", id="regenerate-message"),
        Binding("d,delete", "request('delete')", "Delete", id="delete-message"),
        Binding("t", "request('toggle-reasoning')", "Reasoning", show=False, id="toggle-reasoning"),
        Binding("p", "request('logprobs')", "Confidence", show=False, id="show-logprobs"),
        Binding("x", "request('request')", "Request", show=False, id="show-request"),
        Binding("o", "open_whole", "Open long text", show=False, id="open-whole"),
        Binding("left,h", "request('previous-version')", "Previous version", show=False, id="previous-version"),
        Binding("right,l", "request('next-version')", "Next version", show=False, id="next-version"),
        Binding("f", "request('fork')", "Fork here", show=False, id="fork-message"),
        Binding("escape,i", "request('prompt')", "Prompt", id="back-to-prompt"),
    ]

    @dataclass
    class ActionRequested(Message):
        """The user asked for something to be done with this message."""

        view: MessageView
        action: str
        """`menu`, `copy`, `copy-code`, `edit`, `regenerate`, `continue`, `delete`,
        `toggle-reasoning`, `logprobs` (the confidence view), `request` (the exact
        request), `previous-version`, `next-version`, `fork` or `prompt` (go back to the
        prompt)."""

    def __init__(self, message: ChatMessage, *, version: tuple[int, int] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.message = message
        """The conversation's message (the source of truth)."""
        self.version = version
        """(k, n) when the message is version k of n, else None."""

    def version_text(self) -> str:
        """`‹ 2/3 ›` for a message with other versions (with the keys that switch them
        while it has the focus), else ""."""
        if self.version is None:
            return ""
        k, n = self.version
        mark = f"‹ {k}/{n} ›"
        if self.has_focus and self.is_attached:
            from vllm_chat.ui.keys import key_hint

            keys = f"{key_hint(self.app, 'previous-version', first_only=True)} " \
                   f"{key_hint(self.app, 'next-version', first_only=True)}"
            mark += f"  {keys} other versions"
        return mark

    def watch_has_focus(self, value: bool) -> None:
        super().watch_has_focus(value)
        self.show_version()

    def show_version(self) -> None:
        """Redraw the `‹ k/n ›` mark (it names keys while the message has the focus)."""

    def action_request(self, action: str) -> None:
        self.post_message(self.ActionRequested(self, action))

    def action_open_whole(self) -> None:
        """Open what the view shows only in part (a long reasoning, long tool arguments) whole."""
        self.app.notify("Nothing in this message is shown in part.", severity="information", markup=False)

    # The list mounts only messages near the screen, so it does the moving.

    def action_step(self, step: int) -> None:
        focus_step = getattr(self.parent, "focus_step", None)
        if focus_step is not None and not focus_step(self, step) and step > 0:
            self.action_request("prompt")  # past the last message: back to the prompt

    def action_step_to(self, index: int) -> None:
        focus_message = getattr(self.parent, "focus_message", None)
        if focus_message is not None:
            focus_message(index)


class UserMessageView(MessageView):
    """A prompt the user sent, shown literally (never as Markdown or markup)."""

    DEFAULT_CSS = """
    UserMessageView {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        background: $user-message-background;
        border-left: thick $user-message-border;
        /* Focused: barred on both sides, a shape and not a colour alone. (A tint would have the
           text drawn again in the new background, a long reply at every step of j/k.) */
        &:focus { border-left: thick $focus-border; border-right: thick $focus-border; padding: 0 0 0 1; }
        & > .versions { color: $text-muted; height: 1; }
        & > .files { color: $text-muted; }
    }
    """

    def compose(self) -> ComposeResult:
        yield MarkdownView(self.message.content, plain=True, classes="body")
        if self.message.files:
            yield Static(self._files_line(), classes="files", markup=False)
        if self.message.attachments:
            from vllm_chat.ui.widgets.image_thumb import thumbnails_for

            yield from thumbnails_for(self.message)
        if self.version is not None:
            yield Static(self.version_text(), classes="versions", markup=False)

    def show_version(self) -> None:
        for line in self.query(".versions"):
            if isinstance(line, Static):
                line.update(self.version_text())

    def _files_line(self) -> Text:
        """The files the prompt mentioned, as sent with it ("📄 src/app.py · 1.2k chars")."""
        text = Text()
        for file in self.message.files:
            cut = f" (first {fmt.count(len(file.text))} of {fmt.count(file.size)} bytes)" if file.truncated else ""
            text.append(("\n" if text else "") + f"📄 {inert(file.path)} · {fmt.count(len(file.text))} chars{cut}")
        return text


class WarningNotice(Static):
    """Something to know about a reply that did complete (e.g. malformed chunks were skipped)."""

    DEFAULT_CSS = """
    WarningNotice {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        color: $warning;
        border-left: thick $warning;
    }
    """

    def __init__(self, text: str) -> None:
        super().__init__(Text(inert(text)), markup=False)


class ErrorNotice(Static):
    """What went wrong with a turn, and what to do about it."""

    DEFAULT_CSS = """
    ErrorNotice {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        background: $error-background;
        color: $error-foreground;
        border-left: thick $error;
    }
    """

    def __init__(self, error: ChatError) -> None:
        super().__init__(Text(inert(error.message), style="bold"), markup=False)
        self.error = error
        """The error shown."""

    def on_mount(self) -> None:
        # The hint's steps and the keys that help are spelled from the keymap in force.
        from vllm_chat.ui.keys import error_actions

        error = self.error
        text = Text()
        text.append(inert(error.message), style="bold")
        if error.hint:
            text.append("\n" + inert(with_keys(self.app, error.hint)))
        actions = error_actions(self.app, error)
        if actions:
            text.append("\n" + actions, style="italic")
        self.update(text)


class AssistantMessageView(MessageView):
    """A reply: reasoning (folded), the answer as Markdown, tool panels, and a stats line
    (the client's measures, vLLM's own when it sends them, the reply's confidence when
    logprobs were asked for)."""

    DEFAULT_CSS = """
    AssistantMessageView {
        height: auto;
        margin: 1 0 0 0;
        padding: 0 1;
        background: $assistant-message-background;
        border-left: thick $assistant-message-border;
        & > .footer { color: $text-muted; height: auto; }
        &.-streaming > .footer { color: $text-muted; }
        /* Focused: barred on both sides, a shape and not a colour alone. (A tint would have the
           text drawn again in the new background, a long reply at every step of j/k.) */
        &:focus { border-left: thick $focus-border; border-right: thick $focus-border; padding: 0 0 0 1; }
    }
    """

    def __init__(
        self,
        message: ChatMessage,
        *,
        streaming: bool = False,
        show_reasoning: bool = True,
        tool_results: dict[str, ChatMessage] | None = None,
        version: tuple[int, int] | None = None,
        plain: bool = False,
        start: tuple[str, str] | None = None,
    ) -> None:
        """`plain`: show the text literally, not as Markdown (a completion-mode continuation).
        `start`: a reply that starts streaming now shows this text and reasoning, and its streamed
        deltas, not what `message` holds by the time the view is made."""
        super().__init__(message, version=version)
        error = message.failed_with()
        self._error_notice = ErrorNotice(error) if error is not None else None
        self._streaming = streaming
        self._show_reasoning = show_reasoning
        self.set_class(streaming, "-streaming")
        self.reasoning: ReasoningBlock | None = None
        """The reasoning block, once there is reasoning to show."""
        content, reasoning = start if start is not None else (shown_text(message), message.reasoning or "")
        calls = message.tool_calls if start is None else []  # a reply's calls come after its start
        if reasoning and show_reasoning:
            self.reasoning = ReasoningBlock(reasoning, folded=bool(content.strip() or calls))
        self.body = MarkdownView(content, streaming=streaming, plain=plain, classes="body")
        """The answer."""
        self.badge: CheckBadge | None = CheckBadge(message.check) if message.check and not streaming else None
        """How the reply fared against its constraint, once it was checked."""
        self.tool_panels: dict[int, ToolCallPanel] = {}
        """Panels of this reply's tool calls, by index."""
        for index, call in enumerate(calls):
            panel = ToolCallPanel(index, call.name, call.id)
            panel.restore(call, (tool_results or {}).get(call.id), finished=not streaming)
            self.tool_panels[index] = panel
        self.continuable = False
        """The reply can be continued now (the conversation's last, stopped or cut): its
        footer names the key that does it."""
        self._footer = Static(self._footer_text(), classes="footer", markup=False)
        self._warning: WarningNotice | None = None
        if message.status == "complete" and message.error:
            self._warning = WarningNotice(message.error)

    def compose(self) -> ComposeResult:
        if self.reasoning is not None:
            yield self.reasoning
        yield self.body
        yield from self.tool_panels.values()
        if self.badge is not None:
            yield self.badge
        yield self._footer
        if self._warning is not None:
            yield self._warning
        if self._error_notice is not None:
            yield self._error_notice

    def on_mount(self) -> None:
        if self.continuable:
            self.refresh_footer()  # the key it names is known once the view is in the app

    def action_open_whole(self) -> None:
        """Open the long reasoning, else the first long tool arguments, whole."""
        from vllm_chat.ui.screens.text_view import TextViewScreen
        from vllm_chat.ui.widgets.tool_call_panel import ARGS_FULL_CHARS

        if self.reasoning is not None and self.reasoning.truncated:
            self.app.push_screen(TextViewScreen("Reasoning", self.reasoning.whole_text()))
            return
        panel = next((p for p in self.tool_panels.values() if len(p.arguments) > ARGS_FULL_CHARS), None)
        if panel is not None:
            panel.action_open_whole()
            return
        super().action_open_whole()

    def tool_delta(self, event: ToolCallDelta) -> None:
        """A streamed piece of a tool call: its panel appears with the first piece."""
        panel = self.tool_panels.get(event.index)
        if panel is None:
            if self.reasoning is not None and self.reasoning.streaming:
                self.reasoning.finish()
            panel = ToolCallPanel(event.index, event.name or "", event.id)
            self.tool_panels[event.index] = panel
            self._mount_soon(panel, before=self._footer)
        panel.add_fragment(event.name, event.id, event.arguments_fragment)

    def panel_for(self, call_id: str) -> ToolCallPanel | None:
        """The panel of the call with this id (or, for a server that sent no ids, the
        first panel still without one)."""
        panels = self.tool_panels.values()
        return next((p for p in panels if p.call_id == call_id), None) or next(
            (p for p in panels if p.call_id is None), None)

    def append_reasoning(self, text: str) -> None:
        """Stream reasoning into the reasoning block (created on first use)."""
        if not self._show_reasoning:
            return
        if self.reasoning is None:
            self.reasoning = ReasoningBlock(text, streaming=True)
            self._mount_soon(self.reasoning, before=self.body)
            return
        self.reasoning.append(text)

    def append_content(self, text: str) -> None:
        """Stream answer text; the reasoning block folds when the answer starts."""
        if self.reasoning is not None and self.reasoning.streaming:
            self.reasoning.finish()
        self.body.append(text)

    def finish(self, error: ChatError | None = None) -> None:
        """The reply is over (complete, stopped or failed): flush and show the outcome."""
        self._streaming = False
        self.set_class(False, "-streaming")
        if self.reasoning is not None:
            self.reasoning.finish(fold=bool(self.body.source.strip() or self.tool_panels))
        self.body.finish()
        for panel in self.tool_panels.values():
            if panel.state in ("streaming", "ready", "approval", "running"):
                panel.set_state("stopped")
        if self.message.check is not None and self.badge is None:
            shown = shown_text(self.message)
            if shown != self.body.source:
                self.body.set_text(shown)  # a JSON reply, re-indented
            self.badge = CheckBadge(self.message.check)
            self._mount_soon(self.badge, before=self._footer)
        self.refresh_footer()
        if error is None and self.message.status == "complete" and self.message.error and self._warning is None:
            self._warning = WarningNotice(self.message.error)
            self._mount_soon(self._warning)
        if error is not None and self._error_notice is None:
            self._error_notice = ErrorNotice(error)
            self._mount_soon(self._error_notice)

    def _mount_soon(self, widget: Widget, **where: Widget) -> None:
        """Mount a part now, or once this view is mounted. Events can outrun mounting:
        a turn that fails at once ends before its view is on screen. Parts made
        before `compose` runs are composed with the rest."""
        if widget.parent is not None:
            return
        if self.is_mounted:
            self.mount(widget, **where)
        else:
            self.call_after_refresh(self._mount_soon, widget, **where)

    def refresh_footer(self) -> None:
        """Re-read stats and status from the message."""
        self._footer.update(self._footer_text())

    def show_version(self) -> None:
        self.refresh_footer()

    def _footer_text(self) -> Text:
        msg = self.message
        text = Text()
        if self.version is not None:
            text.append(self.version_text(), style="bold")
            text.append("  ·  " if msg.model else "")
        if msg.model:
            text.append(inert(msg.model))
        stats = fmt.reply_stats(msg)
        if stats:
            text.append(("  ·  " if text else "") + stats)
        if msg.reasoning_controls is not None:
            text.append(("  ·  " if text else "") + inert(msg.reasoning_controls.summary()))
        note = fmt.finish_note(msg)
        if note:
            text.append(("  ·  " if text else "") + note, style="bold")
            if self.continuable and self.is_attached:
                from vllm_chat.ui.keys import key_hint

                text.append(f"  ·  {key_hint(self.app, 'continue-reply', first_only=True)} continues it")
        # vLLM's own timings on a line of their own, under the client's, to compare.
        server = msg.server_metrics.summary() if msg.server_metrics is not None else ""
        confidence = logprobs_summary(msg.logprobs)
        for line in (server, confidence):
            if line:
                text.append(("\n" if text else "") + line)
        if self._streaming and not text:
            text.append("…")
        return text
