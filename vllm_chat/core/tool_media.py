"""Images in tool results, for models that take none.

A tool (an MCP server's) may return images; they travel as parts of the
tool message. A text-only model refuses the whole request
(`<model> is not a multimodal model`); when those images are the only media
in it, the engine sends the request again with each image replaced by a
note, and keeps doing so for that model. Media the user attached are not
touched here: leaving those out is the user's choice (`media/policy.py`).
"""

from __future__ import annotations

from typing import Any

_TEXT = ("text",)


def _media_parts(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [p for p in content if isinstance(p, dict) and p.get("type") not in _TEXT]


def only_tool_media(messages: list[dict[str, Any]]) -> bool:
    """Whether tool messages carry media and no other message does."""
    in_tools = any(_media_parts(m) for m in messages if m.get("role") == "tool")
    elsewhere = any(_media_parts(m) for m in messages if m.get("role") != "tool")
    return in_tools and not elsewhere


def without_tool_media(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`messages` with each tool message's media replaced by a note (its text is kept)."""
    out = []
    for message in messages:
        media = _media_parts(message) if message.get("role") == "tool" else []
        if media:
            texts = [p["text"] for p in message["content"] if p.get("type") == "text" and p.get("text")]
            texts.append(f"[{len(media)} image(s) not shown: this model takes no images]")
            message = {**message, "content": "\n".join(texts)}
        out.append(message)
    return out
