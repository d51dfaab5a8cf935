"""CheckBadge: how a constrained reply fared, under the reply.

"✓ valid against person", "✗ does not match: $.age: 'x' is not of type
'integer'" (with the reason the server probably ignored the constraint), or
"… not checked against person: cut at max_tokens before it was complete".
`shown_text` gives the text a reply view shows: a JSON reply pretty-printed
as a JSON code block once it is complete.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from vllm_chat.core.conversation import Message
from vllm_chat.core.generation.check import ReplyCheck, pretty_json
from vllm_chat.core.text import inert

_MARKS = {"valid": "✓", "invalid": "✗", "cut": "…", "unchecked": "·"}


def shown_text(message: Message) -> str:
    """The reply as a view shows it: JSON that a JSON constraint asked for, re-indented in a
    code block; anything else as it came."""
    check = message.check
    if check is None or check.kind not in ("json_schema", "json_object") or message.status == "streaming":
        return message.content
    pretty = pretty_json(message.content)
    return f"```json\n{pretty}\n```" if pretty is not None else message.content


class CheckBadge(Static):
    """The outcome of checking one reply against its constraint."""

    DEFAULT_CSS = """
    CheckBadge {
        height: auto;
        color: $text-muted;
        &.-valid { color: $success; }
        &.-invalid { color: $error; }
        &.-cut { color: $warning; }
    }
    """

    def __init__(self, check: ReplyCheck) -> None:
        super().__init__(self._text(check), markup=False, classes=f"-{check.outcome}")
        self.check = check
        """The outcome shown."""

    @staticmethod
    def _text(check: ReplyCheck) -> Text:
        text = Text(f"{_MARKS[check.outcome]} {inert(check.badge)}", style="bold")
        ignored = check.server_ignored
        if ignored:
            text.append("\n" + inert(ignored), style="not bold")
        return text
