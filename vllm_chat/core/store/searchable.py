"""What a search looks at: the searchable text of a session document, query words, and snippets.

A session's text goes into the index in three columns (`document`): the
title, what the user and the model said (every branch), and the extras
(reasoning, tool calls and tool results, files mentioned with `@path`).
Words are compared folded (no case, no accents), and a query word matches
every word that starts with it. A hit's snippet is cut from the session file
itself (the index holds no text): the field with the most query words, a
window of about `SNIPPET_CHARS` around the first of them, every match marked.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vllm_chat.core.store.documents import read_document, summarize_document
from vllm_chat.core.store.errors import StoreError
from vllm_chat.core.store.files import StatKey, read_with_key
from vllm_chat.core.text import inert
from vllm_chat.core.titles import title_from_prompt

SNIPPET_CHARS = 120
"""About how long a snippet is."""

_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class Snippet:
    """A line of a session around a hit."""

    text: str
    """One line, control characters made visible (safe to print), cut with "…"."""
    marks: tuple[tuple[int, int], ...]
    """Where the query's words are in `text`: (start, end) character offsets."""


def query_words(query: str) -> list[str]:
    """The words of a search query, folded (case and accents ignored), in order, no repeats."""
    return list(dict.fromkeys(fold(w) for w in _WORD.findall(query)))


def fold(text: str) -> str:
    """`text` compared the way the index compares words: no case, no accents."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def key_text(key: StatKey) -> str:
    """A stat key as the index stores it."""
    return ":".join(map(str, key))


def parse_key(text: str) -> StatKey | None:
    """A stat key the index stored (None: not one)."""
    parts = text.split(":")
    if len(parts) != 4 or not all(p.isdigit() for p in parts):
        return None
    return (int(parts[0]), int(parts[1]), int(parts[2]), int(parts[3]))


# --- what is indexed ---------------------------------------------------------------------


Indexed = tuple[str, "str | None", "tuple[str, str, str] | None", "dict[str, Any] | None"]
"""What indexing one file gives: name, stat key text, FTS columns, summary."""


def document(path: Path) -> Indexed:
    """(file name, stat key of what was read, (title, text, extra), summary); columns and
    summary None for a file that is not a session, key None when it can't be read at all."""
    try:
        data, key = read_with_key(path)
    except OSError:
        return path.name, None, None, None
    try:
        doc = read_document(data)
    except StoreError:
        return path.name, key_text(key), None, None
    text: list[str] = []
    extra: list[str] = []
    for field, where in fields(doc, everywhere=True):
        (extra if where.split(" ")[0] in ("reasoning", "tool", "mentioned") else text).append(field)
    summary = summarize_document(doc, path.name[:-5])
    return path.name, key_text(key), (summary["title"], "\n".join(text), "\n".join(extra)), summary


def title_of(doc: dict[str, Any]) -> str:
    """The title a session document shows (its first prompt when it has none)."""
    title = doc.get("title")
    if isinstance(title, str) and title.strip():
        return title
    found = doc.get("messages")
    messages: list[Any] = found if isinstance(found, list) else []
    first = next((m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"), "")
    return title_from_prompt(first if isinstance(first, str) else "")


def fields(doc: dict[str, Any], *, everywhere: bool) -> Iterable[tuple[str, str]]:
    """Every searchable text of a session document with where it is: the shown branch first."""
    for key, later in (("messages", ""), ("aside", " (another version)")):
        messages = doc.get(key)
        for message in messages if isinstance(messages, list) else []:
            if not isinstance(message, dict):
                continue
            role, content = message.get("role"), message.get("content")
            if role == "tool":
                if everywhere and isinstance(content, str) and content:
                    yield content, "tool result" + later
                continue
            if isinstance(content, str) and content:
                yield content, ("prompt" if role == "user" else "reply") + later
            if not everywhere:
                continue
            for mentioned in message.get("files") or []:
                if isinstance(mentioned, dict) and isinstance(mentioned.get("text"), str) and mentioned["text"]:
                    yield mentioned["text"], "mentioned file" + later
            reasoning = message.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                yield reasoning, "reasoning" + later
            for call in message.get("tool_calls") or []:
                if isinstance(call, dict):
                    words = " ".join(str(call.get(k) or "") for k in ("name", "arguments")).strip()
                    if words:
                        yield words, "tool call" + later


# --- snippets ----------------------------------------------------------------------------


def snippet_of(path: Path, words: list[str], everywhere: bool) -> tuple[Snippet, str] | None:
    """The best snippet of a session file for `words`, and where it is; None if nothing matches."""
    try:
        doc = read_document(path.read_bytes())
    except (OSError, StoreError):
        return None
    best: tuple[int, str, str] | None = None
    for text, where in [(title_of(doc), "title"), *fields(doc, everywhere=everywhere)]:
        folded = fold(text)
        candidates = [w for w in words if w in folded]  # cheap: most fields hold none of the words
        if not candidates or (best is not None and len(candidates) <= best[0]):
            continue
        found: set[str] = set()
        for _, _, token in _matches(text, candidates):
            found.update(w for w in candidates if token.startswith(w))
            if len(found) == len(candidates):
                break
        if found and (best is None or len(found) > best[0]):
            best = (len(found), text, where)
            if len(found) == len(words):
                break
    if best is None:
        return None
    return cut_snippet(best[1], words), best[2]


def _matches(text: str, words: list[str]) -> Iterator[tuple[int, int, str]]:
    """Every word of `text` that starts with one of `words`: (start, end, the word folded)."""
    words = [w for w in words if w]
    if not words:
        return
    if text.isascii():
        # The common case, done by one regular expression: folding ASCII is lower-casing,
        # which keeps every offset. A match starts where a word starts.
        lower = text.lower()
        for match in _prefixes(tuple(words)).finditer(lower):
            word = _WORD.match(lower, match.start())
            if word is not None:
                yield word.start(), word.end(), word.group()
        return
    for match in _WORD.finditer(text):
        folded = fold(match.group())
        if any(folded.startswith(w) for w in words):
            yield match.start(), match.end(), folded


@functools.lru_cache(maxsize=64)
def _prefixes(words: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first, so that a word matched by two query words is found once, whole.
    alternatives = "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![^\W_])(?:{alternatives})")


def cut_snippet(text: str, words: list[str], width: int = SNIPPET_CHARS) -> Snippet:
    """A one-line window of `text` around the first word that starts with one of `words`
    (folded), with every such word marked."""
    first = next((s for s, _, _ in _matches(text, words)), 0)
    start = max(0, first - width // 3)
    end = min(len(text), start + width)
    start = max(0, min(start, end - width))
    if start > 0:  # begin and end on a word boundary where one is near
        space = text.find(" ", start, min(first, start + 15))
        start = space + 1 if space >= 0 else start
    if end < len(text):
        space = text.rfind(" ", max(first, end - 15), end)
        end = space if space > first else end
    window = " ".join(inert(text[start:end]).split())
    prefix = "…" if start > 0 else ""
    suffix = "…" if end < len(text) else ""
    line = prefix + window + suffix
    marks = tuple((s, e) for s, e, _ in _matches(line, words))
    return Snippet(line, marks)
