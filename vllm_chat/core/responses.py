"""What a server sent back, checked and described for a person.

A server (or a proxy in front of it) can answer with anything: a 2 MB HTML
error page, a login form where the model list should be, JSON of another
shape. Such an answer is never shown or stored whole: `excerpt()` makes a
short, one-paragraph quote of it (the page's title, or its text without
tags), and `describe_body()` says what kind of thing it was and how big.
`parse_models()` turns a `/v1/models` answer into `ModelInfo`s or a
`ChatError` saying what arrived and what was expected.
"""

from __future__ import annotations

import html
import json
import re
from typing import Any

from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.models import ModelInfo

EXCERPT_CHARS = 200
"""Most characters quoted from a server's answer."""

_TITLE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)
_TAG = re.compile(r"<[^>]*>|<[^>]*\Z")
_SPACE = re.compile(r"\s+")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)


def size_text(count: int) -> str:
    """A byte count for people: `870 bytes`, `12 KB`, `2.0 MB`."""
    if count < 1024:
        return f"{count} bytes"
    if count < 1024 * 1024:
        return f"{count / 1024:.0f} KB"
    return f"{count / (1024 * 1024):.1f} MB"


def looks_like_html(text: str | bytes) -> bool:
    """Whether an answer is an HTML page rather than the JSON an API sends."""
    head = (text[:512].decode("utf-8", "replace") if isinstance(text, bytes) else text[:512]).lstrip().lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body")) or "<html" in head


def excerpt(text: str | bytes, limit: int = EXCERPT_CHARS) -> str:
    """A short quote of a server's answer on one line: for an HTML page its title
    (else its text without tags), for anything else its start."""
    raw = text if isinstance(text, bytes) else None
    if raw is not None:
        text = raw[: 64 * 1024].decode("utf-8", errors="replace")
    assert isinstance(text, str)
    if looks_like_html(text):
        title = _TITLE.search(text[: 64 * 1024].encode("utf-8", "replace"))
        if title:
            text = title.group(1).decode("utf-8", "replace")
        else:
            text = _TAG.sub(" ", _SCRIPT.sub(" ", text[: 64 * 1024]))
        text = html.unescape(text)
    text = _SPACE.sub(" ", text[: limit * 4]).strip()
    return text if len(text) <= limit else text[:limit].rstrip() + "…"


def describe_body(body: str | bytes, content_type: str = "") -> str:
    """What an unexpected answer was, e.g. `an HTML page of 2.0 MB ("502 Bad Gateway")`."""
    size = len(body.encode("utf-8", "replace") if isinstance(body, str) else body)
    if not size:
        return "an empty answer"
    quoted = excerpt(body)
    if looks_like_html(body) or "html" in content_type:
        kind = "an HTML page"
    elif "json" in content_type:
        kind = "a JSON answer"
    else:
        kind = "a text answer"
    return f'{kind} of {size_text(size)} ("{quoted}")' if quoted else f"{kind} of {size_text(size)}"


def _bad_models(url: str, what: str) -> ChatErrorException:
    return ChatErrorException(ChatError(
        "bad_response",
        f"{url} did not answer with a model list: it sent {what}; expected the JSON list "
        '({"object": "list", "data": [{"id": ...}]}) an OpenAI-compatible server sends.',
        "Check that the base URL points at the vLLM server itself (ending in /v1), not at a web page, "
        "a proxy's login or another service. This is the server's answer, not a vllm-chat bug.",
        details={"url": url},
    ))


def parse_models(content: bytes, content_type: str, *, url: str) -> list[ModelInfo]:
    """The models of a `/v1/models` answer, or `ChatErrorException` (`bad_response`)
    describing what arrived instead."""
    try:
        doc: Any = json.loads(content)
    except (ValueError, RecursionError):
        raise _bad_models(url, describe_body(content, content_type)) from None
    data = doc.get("data") if isinstance(doc, dict) else None
    if not isinstance(data, list):
        raise _bad_models(url, "JSON without a 'data' list" if isinstance(doc, dict)
                          else f"a JSON {type(doc).__name__}, not an object")
    models = []
    for card in data:
        if not isinstance(card, dict) or not isinstance(card.get("id"), str) or not card["id"]:
            raise _bad_models(url, f"a model entry without a text 'id' ({excerpt(json.dumps(card))})")
        max_len = card.get("max_model_len")
        parent, root = card.get("parent"), card.get("root")
        models.append(ModelInfo(
            id=card["id"],
            max_model_len=max_len if isinstance(max_len, int) and not isinstance(max_len, bool) else None,
            parent=parent if isinstance(parent, str) else None,
            root=root if isinstance(root, str) else None,
        ))
    return models
