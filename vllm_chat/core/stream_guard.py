"""Read a server's event stream defensively: one bad chunk is skipped and reported, never fatal.

A streamed reply is read without the SDK (`plain_stream`); this module is its
server-sent-events decoder. It splits events as the SDK's own does, and then
checks each one before anything reads it:

- bytes that are not UTF-8 are decoded with U+FFFD in their place (the text
  around them is kept) and reported;
- `data:` that is not JSON (`data: {garbage`), and chat chunks of the wrong
  shape (`"choices": "nope"`, a delta that is a list, text that is a number),
  are left out and reported; the chunks after them still count.

Each problem becomes a `StreamFault`; `describe_faults` words them for a
person, naming what arrived, what was expected, and that the server (or a
proxy in front of it) sent it.

The decoder also hands the event loop a turn every `YIELD_EVERY` seconds: a
read from the socket can bring 64 KB (a hundred and more events), and
everything a consumer does with them (the engine, the UI drawing them) would
otherwise run as one block while keys typed meanwhile wait.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

EXCERPT_CHARS = 60
"""Characters of a bad chunk quoted in the report."""

YIELD_EVERY = 0.004
"""Seconds of handling events (here and in whatever consumes them) before the event
loop gets a turn, when the bytes arrive faster than they are handled."""

MAX_FAULTS_KEPT = 20
"""Faults kept per stream (the rest are only counted): a server sending nothing but
garbage must not fill memory with reports."""


@dataclass(frozen=True)
class StreamFault:
    """One thing in the stream that was not what the API promises."""

    problem: str
    """What was wrong, e.g. "not JSON" or "'choices' is a string, not a list"."""
    excerpt: str
    """The start of what arrived (control characters left for the display to make inert)."""
    kept: bool = False
    """True when the chunk was still used (invalid UTF-8 replaced by U+FFFD)."""


class FaultLog:
    """The faults of one stream: the first `MAX_FAULTS_KEPT`, and how many there were."""

    def __init__(self) -> None:
        self.faults: list[StreamFault] = []
        """The first faults, in order."""
        self.count = 0
        """Every fault seen, kept or not."""

    def add(self, fault: StreamFault) -> None:
        """Note one more fault."""
        self.count += 1
        if len(self.faults) < MAX_FAULTS_KEPT:
            self.faults.append(fault)

    def __bool__(self) -> bool:
        return self.count > 0


def describe_faults(log: FaultLog) -> str:
    """One paragraph for a person: what arrived, what was expected, whose fault it is."""
    if not log:
        return ""
    first = log.faults[0]
    skipped = sum(1 for f in log.faults if not f.kept) + max(0, log.count - len(log.faults))
    kinds = sorted({f.problem for f in log.faults})
    what = "; ".join(kinds[:3]) + ("; …" if len(kinds) > 3 else "")
    quoted = f" (e.g. `{first.excerpt}`)" if first.excerpt else ""
    if skipped:
        outcome = (f"{skipped} chunk{'s were' if skipped != 1 else ' was'} skipped, so the reply may miss "
                   "a piece")
    else:
        outcome = "The text was kept, with � where the bad bytes were"
    return (f"The server sent {log.count} malformed stream chunk{'s' if log.count != 1 else ''}: "
            f"{what}{quoted}; expected chat.completion.chunk JSON objects in UTF-8. {outcome}. "
            "This is a fault of the server or a proxy in front of it, not of vllm-chat.")


def _excerpt(text: str, around: int = 0) -> str:
    """The start of `text` (or the part around position `around`) on one line."""
    text = text.replace("\n", " ")
    start = max(0, around - EXCERPT_CHARS // 2)
    part = text[start:start + EXCERPT_CHARS]
    return ("…" if start else "") + part + ("…" if start + EXCERPT_CHARS < len(text) else "")


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)


def _expect(value: Any, types: tuple[type, ...], where: str, wanted: str) -> str | None:
    if value is None or (isinstance(value, types) and not isinstance(value, bool)):
        return None
    if bool in types and isinstance(value, bool):
        return None
    return f"'{where}' is {_kind(value)}, not {wanted}"


_LINE_END = re.compile(rb"[\r\n]")

_TEXT_FIELDS = ("content", "reasoning", "reasoning_content", "role", "refusal")


def chunk_problem(doc: Any) -> str | None:
    """Why `doc` (a decoded `data:` payload) is not a usable chat chunk, else None.

    Only what the app reads is checked, and only its type: unknown fields are
    fine (vLLM adds its own), and an `error` object passes through so the reader
    reports it as the server's error.
    """
    if not isinstance(doc, dict):
        return f"the chunk is {_kind(doc)}, not an object"
    if isinstance(doc.get("error"), dict):
        return None
    choices = doc.get("choices")
    if choices is not None and not isinstance(choices, list):
        return f"'choices' is {_kind(choices)}, not a list"
    for choice in choices or []:
        if not isinstance(choice, dict):
            return f"a choice is {_kind(choice)}, not an object"
        problem = (_expect(choice.get("index"), (int,), "index", "a number")
                   or _expect(choice.get("finish_reason"), (str,), "finish_reason", "a string")
                   or _expect(choice.get("text"), (str,), "text", "a string")  # /v1/completions
                   or _delta_problem(choice.get("delta")))
        if problem:
            return problem
    usage = doc.get("usage")
    if usage is not None:
        if not isinstance(usage, dict):
            return f"'usage' is {_kind(usage)}, not an object"
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            problem = _expect(usage.get(key), (int,), f"usage.{key}", "a number")
            if problem:
                return problem
        details = usage.get("completion_tokens_details")
        if details is not None and not isinstance(details, dict):
            return f"'usage.completion_tokens_details' is {_kind(details)}, not an object"
        if isinstance(details, dict):
            problem = _expect(details.get("reasoning_tokens"), (int,), "reasoning_tokens", "a number")
            if problem:
                return problem
    return None


def _delta_problem(delta: Any) -> str | None:
    if delta is None:
        return None
    if not isinstance(delta, dict):
        return f"'delta' is {_kind(delta)}, not an object"
    for key in _TEXT_FIELDS:
        problem = _expect(delta.get(key), (str,), f"delta.{key}", "a string")
        if problem:
            return problem
    calls = delta.get("tool_calls")
    if calls is None:
        return None
    if not isinstance(calls, list):
        return f"'delta.tool_calls' is {_kind(calls)}, not a list"
    for call in calls:
        if not isinstance(call, dict):
            return f"a tool call is {_kind(call)}, not an object"
        problem = (_expect(call.get("index"), (int,), "tool_calls.index", "a number")
                   or _expect(call.get("id"), (str,), "tool_calls.id", "a string"))
        if problem:
            return problem
        function = call.get("function")
        if function is None:
            continue
        if not isinstance(function, dict):
            return f"'tool_calls.function' is {_kind(function)}, not an object"
        for key in ("name", "arguments"):
            problem = _expect(function.get(key), (str,), f"function.{key}", "a string")
            if problem:
                return problem
    return None


class CheckedEvent:
    """One server-sent event that passed the checks."""

    __slots__ = ("_value", "data", "event", "id", "retry")

    def __init__(self, event: str | None, data: str, value: Any, event_id: str | None = None,
                 retry: int | None = None) -> None:
        self.event = event
        self.data = data
        self.id = event_id
        self.retry = retry
        self._value = value

    def json(self) -> Any:
        """The decoded data (decoded once, while checking)."""
        return self._value


class CheckedSSEDecoder:
    """An SSE decoder that drops malformed events and reports them to a `FaultLog`.

    Line splitting follows the SSE spec (CR, LF or CRLF end a line; a blank
    line ends an event; `:` starts a comment); there is no limit on line or
    event size, as in the SDK's own decoder.
    """

    def __init__(self, log: FaultLog | None = None) -> None:
        self.log = log if log is not None else FaultLog()
        """Where problems go."""
        self._buffer = bytearray()
        self._skip_lf = False
        self._event: str | None = None
        self._data: list[str] = []
        self._last_id: str | None = None
        self._retry: int | None = None
        self._bad_utf8 = False

    # -- bytes in, events out ------------------------------------------------------------

    def iter_bytes(self, iterator: Iterable[bytes]) -> Iterator[CheckedEvent]:
        """Events from raw bytes."""
        for chunk in iterator:
            yield from self._feed(chunk)
        yield from self._finish()

    async def aiter_bytes(self, iterator: AsyncIterator[bytes]) -> AsyncIterator[CheckedEvent]:
        """Events from raw bytes, asynchronously (the loop gets a turn every `YIELD_EVERY`)."""
        async for chunk in iterator:
            # A read that had to wait gave the loop its turn; one that didn't, at most the
            # previous read's last YIELD_EVERY ago. (Yielding after every read would add a
            # turn of the loop per token to a stream that comes one token at a time.)
            turn = time.monotonic()
            for event in self._feed(chunk):
                yield event  # the consumer's handling of the event runs before this returns
                if time.monotonic() - turn >= YIELD_EVERY:
                    await asyncio.sleep(0)
                    turn = time.monotonic()
        for event in self._finish():
            yield event

    # -- lines ---------------------------------------------------------------------------

    def _feed(self, chunk: bytes) -> Iterator[CheckedEvent]:
        start = 0
        for match in _LINE_END.finditer(chunk):
            end = match.start()
            if self._skip_lf and end == start and chunk[end] == 10:
                self._skip_lf = False  # the LF of a CRLF split across chunks
                start = end + 1
                continue
            self._skip_lf = chunk[end] == 13
            self._buffer += chunk[start:end]
            line = bytes(self._buffer)
            self._buffer.clear()
            start = end + 1
            event = self._line(line)
            if event is not None:
                yield event
        if start < len(chunk):
            self._skip_lf = False
            self._buffer += chunk[start:]

    def _finish(self) -> Iterator[CheckedEvent]:
        if self._buffer:
            line = bytes(self._buffer)
            self._buffer.clear()
            event = self._line(line)
            if event is not None:
                yield event
        event = self._line(b"")  # a stream cut without a final blank line still ends its event
        if event is not None:
            yield event

    def _line(self, raw: bytes) -> CheckedEvent | None:
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            line = raw.decode("utf-8", errors="replace")
            self._bad_utf8 = True
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return None
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._last_id = value
        elif name == "retry":
            try:
                self._retry = int(value)
            except ValueError:
                pass
        return None

    # -- events --------------------------------------------------------------------------

    def _dispatch(self) -> CheckedEvent | None:
        if not self._data and not self._event and self._retry is None:
            self._bad_utf8 = False
            return None
        data, event, bad_utf8 = "\n".join(self._data), self._event, self._bad_utf8
        self._data, self._event, self._retry, self._bad_utf8 = [], None, None, False
        if data.startswith("[DONE]"):
            return CheckedEvent(event, data, None, self._last_id)
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            self.log.add(StreamFault("a chunk that is not JSON", _excerpt(data)))
            return None
        problem = chunk_problem(value)
        if problem:
            self.log.add(StreamFault(problem, _excerpt(data)))
            return None
        if bad_utf8:
            self.log.add(StreamFault("bytes that are not UTF-8", _excerpt(data, data.find("\ufffd")), kept=True))
        return CheckedEvent(event, data, value, self._last_id)
