"""Titles of conversations: made from the first prompt, or asked of the model and cleaned up.

A new conversation is titled from its first prompt at once
(`title_from_prompt`); when `sessions.auto_title` is on, the session asks the
model for a short title after the first reply (`title_request_messages`) and
keeps the answer only if `clean_model_title` finds a usable title in it.
"""

from __future__ import annotations

import re

from vllm_chat.core.conversation import Conversation

TITLE_CHARS = 60
"""Longest title made from a prompt or accepted from the model."""

DEFAULT_TITLE = "New chat"
"""The title when there is nothing to make one from."""

_TITLE_SYSTEM = (
    "You name conversations. Reply with a title of at most six words that says what the "
    "conversation is about. Reply with the title only: no quotes, no punctuation at the end, "
    "no explanation."
)
_TITLE_EXCERPT = 2000


def _trim_title(text: str) -> str:
    flat = " ".join(text.split())
    if len(flat) <= TITLE_CHARS:
        return flat
    cut = flat[: TITLE_CHARS - 1]
    space = cut.rfind(" ")
    if space >= TITLE_CHARS // 3:  # cut on a word boundary unless the first word is huge
        cut = cut[:space]
    return cut.rstrip(" ,;:.-–—") + "…"


def title_from_prompt(text: str) -> str:
    """A title from a first prompt: its first non-blank line, trimmed to ~60 characters.

    Cut on a word boundary with an ellipsis when longer; "New chat" when
    there is no text.
    """
    for line in text.splitlines():
        if line.strip():
            return _trim_title(line)
    return DEFAULT_TITLE


def title_request_messages(conv: Conversation) -> list[dict[str, str]]:
    """The `messages` of a small request asking the model for a title of `conv`.

    Built from the first user prompt and the first assistant answer (each cut
    to a couple of thousand characters); send it without tools, with a small
    `max_tokens` and thinking off where the template supports it.
    """
    prompt = next((m.content for m in conv.messages if m.role == "user" and m.content.strip()), "")
    answer = next(
        (m.content for m in conv.messages if m.role == "assistant" and m.content.strip()), ""
    )
    parts = [f"User:\n{prompt[:_TITLE_EXCERPT]}"]
    if answer:
        parts.append(f"Assistant:\n{answer[:_TITLE_EXCERPT]}")
    excerpt = "\n\n".join(parts)
    return [
        {"role": "system", "content": _TITLE_SYSTEM},
        {"role": "user", "content": f"Write a title for this conversation.\n\n{excerpt}\n\nTitle:"},
    ]


_THINK_BLOCK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_TITLE_LABEL = re.compile(r"^title\s*[:：]\s*", re.IGNORECASE)
# Heading and list marks at the start; emphasis and code marks anywhere, but
# underscores only at word edges so that `snake_case` survives.
_MARKDOWN_MARKS = re.compile(r"^[#>*+\-\s]+|[*`~]+|(?<!\w)_+|_+(?!\w)")
_QUOTES = "\"'`“”‘’«»„"
_LONGEST_MODEL_TITLE = 100


def clean_model_title(text: str) -> str | None:
    """A model's reply to the title request as a usable title, or None if it is no good.

    Drops `<think>` blocks (and everything up to a stray `</think>`), takes
    the first non-blank line, removes a "Title:" label, Markdown marks,
    surrounding quotes and a final period, and trims to ~60 characters. None
    when nothing with a letter or digit is left, when the reply was cut off
    while thinking, or when the line is far too long to be a title (the model
    wrote prose instead).
    """
    text = _THINK_BLOCK.sub("", text)
    lower = text.lower()
    if "</think>" in lower:
        text = text[lower.rindex("</think>") + len("</think>"):]
    elif "<think>" in lower:
        return None
    line = next((ln for ln in text.splitlines() if ln.strip()), "")
    line = _TITLE_LABEL.sub("", _MARKDOWN_MARKS.sub("", line).strip())
    line = line.strip().strip(_QUOTES).strip().rstrip(".").strip().strip(_QUOTES).strip()
    if not any(ch.isalnum() for ch in line) or len(line) > _LONGEST_MODEL_TITLE:
        return None
    return _trim_title(line)
