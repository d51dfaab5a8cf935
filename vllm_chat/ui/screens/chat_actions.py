"""What the chat screen does with a message: copy, edit, regenerate, continue, delete.

A mixin of `ChatScreen`, kept apart so the screen module stays about layout,
turns and the connection. Each action calls `ChatSession`; only the choice of
dialog and the notices live here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vllm_chat.core.clipboard import clipboard_program, copy_with_program
from vllm_chat.ui.keys import binding_keys, key_hint, with_keys
from vllm_chat.ui.widgets.message_views import AssistantMessageView, MessageView

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.ui.screens.chat import ChatScreen

ACTION_LABELS = {
    "copy": ("copy-message", "Copy the text"),
    "copy-code": ("copy-code", "Copy a code block…"),
    "edit": ("edit-message", "Edit and send again (the old one stays as a version)"),
    "regenerate": ("regenerate-message", "Regenerate this reply"),
    "candidates": ("ask-candidates", "Regenerate as N candidates, and pick one…"),
    "compare": ("compare-models", "Regenerate with several models side by side…"),
    "continue": ("continue-reply", "Continue this reply"),
    "toggle-reasoning": ("toggle-reasoning", "Show or hide the reasoning"),
    "logprobs": ("show-logprobs", "Confidence: each token's probability and alternatives"),
    "request": ("show-request", "The exact request (copy as JSON, curl, Python) and the rendered prompt"),
    "previous-version": ("previous-version", "Show the previous version"),
    "next-version": ("next-version", "Show the next version"),
    "fork": ("fork-message", "Fork from here into a new session"),
    "delete": ("delete-message", "Delete (kept in the session file)"),
    "originals": ("show-originals", "Show the messages it stands for"),
}
"""Each message action: the id of the binding that does it (its key is shown in the
menu, as the keymap has it), and how the menu says it."""


class MessageActions:
    """Carries out `MessageView.ActionRequested` and the related screen actions."""

    # A plain `on_...` name, not @on: the decorator is collected only from classes
    # built by Textual's metaclass, and this mixin is not one.
    def on_message_view_action_requested(self: ChatScreen, event: MessageView.ActionRequested) -> None:
        event.stop()
        self.do_message_action(event.view, event.action)

    def do_message_action(self: ChatScreen, view: MessageView, action: str) -> None:
        """Do `action` on the message `view` shows."""
        if action == "prompt":
            self.prompt.focus()  # only leaves the messages: a streaming reply goes on
            return
        try:
            allowed = self.session.actions_for(view.message.id)
        except KeyError:
            return  # the message is no longer in the conversation
        if action == "menu":
            self._open_actions_menu(view, allowed)
            return
        if action not in allowed or (self.session.running and action not in ("copy", "copy-code",
                                                                              "toggle-reasoning", "logprobs",
                                                                              "request")):
            why = "a reply is streaming" if self.session.running else "not for this message"
            self.notify(f"{ACTION_LABELS.get(action, (None, action))[1]}: {why}.", severity="warning", markup=False)
            return
        handler = {
            "copy": self._copy_message,
            "copy-code": self._copy_code,
            "edit": self._edit_message,
            "regenerate": self._regenerate,
            "candidates": lambda v: self.action_ask_candidates(),
            "compare": lambda v: self.action_compare_models(),
            "continue": lambda v: self.action_continue_reply(),
            "toggle-reasoning": self._toggle_reasoning,
            "logprobs": lambda v: self.show_logprobs(v.message.id),
            "request": lambda v: self.show_request(v.message.id),
            "previous-version": lambda v: self.show_version(v, -1),
            "next-version": lambda v: self.show_version(v, 1),
            "fork": lambda v: self.fork_conversation(v.message.id),
            "delete": self._delete_message,
            "originals": self._show_originals,
        }[action]
        handler(view)

    def _open_actions_menu(self: ChatScreen, view: MessageView, allowed: list[str]) -> None:
        from vllm_chat.ui.screens.pick_list import PickListScreen

        keys = {a: key_hint(self.app, ACTION_LABELS[a][0], first_only=True) for a in allowed}
        width = max((len(key) for key in keys.values()), default=0)
        items = [(a, f"{keys[a]:>{width}}  {ACTION_LABELS[a][1]}") for a in allowed]
        # The letters the menu shows act in it too, as they do on the message itself.
        shortcuts = {key: a for a in reversed(allowed) for key in binding_keys(self.app, ACTION_LABELS[a][0])}
        who = _who(view)
        self.app.push_screen(PickListScreen(f"Do what with {who}?", items, shortcuts=shortcuts,
                                            hint="enter or the key shown picks · {cancel-pick} cancel"),
                             lambda choice: choice and self.do_message_action(view, choice))

    # -- copying ------------------------------------------------------------------------

    def copy_text(self: ChatScreen, text: str, what: str) -> None:
        """Copy `text` (OSC 52, plus a local clipboard program if there is one) and say how."""
        self.app.copy_to_clipboard(text)
        program = copy_with_program(text, clipboard_program(self.session.settings.copy_command))
        how = f"sent to the terminal (OSC 52) and to {program}" if program else \
            "sent to the terminal (OSC 52; in tmux this needs `set -g set-clipboard on`)"
        self.notify(f"Copied {what} ({len(text)} characters): {how}.", title="Copied", markup=False)

    def _copy_message(self: ChatScreen, view: MessageView) -> None:
        self.copy_text(view.message.content, "the message")

    def _copy_code(self: ChatScreen, view: MessageView) -> None:
        blocks = self.session.code_blocks_of(view.message.id)
        if len(blocks) == 1:
            self.copy_text(blocks[0][1], "the code block")
            return
        from vllm_chat.ui.screens.pick_list import PickListScreen

        items = [(str(i), f"{i + 1}. {label}") for i, (label, _) in enumerate(blocks)]

        def picked(choice: str | None) -> None:
            if choice is not None:
                self.copy_text(blocks[int(choice)][1], f"code block {int(choice) + 1}")

        self.app.push_screen(PickListScreen("Copy which code block?", items), picked)

    # -- looking inside a reply ------------------------------------------------------------

    def last_reply_id(self: ChatScreen) -> str | None:
        """The id of the conversation's last reply (None before the first)."""
        replies = [m for m in self.session.conversation.messages if m.role == "assistant"]
        return replies[-1].id if replies else None

    def show_logprobs(self: ChatScreen, message_id: str | None) -> None:
        """A reply as a confidence heat-map, token by token."""
        from vllm_chat.ui.screens.confidence import ConfidenceScreen

        if message_id is None or "logprobs" not in self.session.actions_for(message_id):
            self.notify(with_keys(self.app, "No logprobs for this reply: switch them on in the settings "
                                            "({open-settings}) or the palette, then send or retry."),
                        severity="warning", markup=False)
            return
        message = next(m for m in self.session.conversation.messages if m.id == message_id)
        table = self.session.logprobs_of(message_id)
        assert table is not None and message.logprobs is not None
        title = f"Confidence · {message.model}" if message.model else "Confidence"
        self.app.push_screen(ConfidenceScreen(table, message.logprobs, title=title))

    def show_request(self: ChatScreen, message_id: str | None) -> None:
        """The exact request behind a reply, to read or copy, and its rendered prompt."""
        from vllm_chat.ui.screens.request_view import RequestScreen

        if message_id is None or "request" not in self.session.actions_for(message_id):
            self.notify("No request is recorded for this reply (replies saved by earlier versions "
                        "don't keep it).", severity="warning", markup=False)
            return
        self.app.push_screen(RequestScreen(self.session, message_id, self.copy_text))

    # -- changing the conversation ------------------------------------------------------------

    def _edit_message(self: ChatScreen, view: MessageView) -> None:
        from vllm_chat.ui.screens.text_edit import TextEditScreen

        def edited(text: str | None) -> None:
            if text is None or not text.strip() or text == view.message.content:
                return
            self.session.edit_user_message(view.message.id, text)
            self.show_conversation()
            self.run_turn()

        self.app.push_screen(TextEditScreen(
            view.message.content, title="Edit your message (later messages are set aside, not lost)",
            hint="{save-text} send again · {cancel-text} cancel", area_id="edit-message-text"), edited)

    def _show_originals(self: ChatScreen, view: MessageView) -> None:
        from vllm_chat.ui.screens.compacted import CompactedScreen

        record = self.session.compaction_of(view.message.id)
        if record is None:
            self.notify("The session file has no record of these messages.", severity="warning", markup=False)
            return
        self.app.push_screen(CompactedScreen(record))

    def _regenerate(self: ChatScreen, view: MessageView) -> None:
        self.action_retry()

    def _toggle_reasoning(self: ChatScreen, view: MessageView) -> None:
        if isinstance(view, AssistantMessageView) and view.reasoning is not None:
            view.reasoning.toggle()

    def _delete_message(self: ChatScreen, view: MessageView) -> None:
        from vllm_chat.ui.screens.confirm import ConfirmScreen

        def answered(yes: bool | None) -> None:
            if not yes:
                return
            self.session.delete_message(view.message.id)
            self.show_conversation()
            self.prompt.focus()

        who = _who(view)
        self.app.push_screen(ConfirmScreen(
            f"Delete {who}?", "Delete", "Keep",
            detail="It leaves the conversation (and the next requests); the session file keeps a copy.",
            destructive=True),
            answered)


def _who(view: MessageView) -> str:
    """How a menu or question names the message."""
    if view.message.compaction_id is not None:
        return "this summary" if view.message.content else "this mark"
    return "your message" if view.message.role == "user" else "this reply"
