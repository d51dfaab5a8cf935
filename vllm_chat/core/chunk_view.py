"""ChunkView: a streamed chunk read straight from its JSON, with the SDK's attribute access.

The SDK turns every chunk of a stream into a tree of pydantic models (chunk, choice,
delta, usage...). At one chunk per token that was the largest cost of streaming, for
the app and for a bare SDK loop alike: several times what decoding the JSON costs.
The SDK still sends the request, decodes the server-sent events, stops at `[DONE]`
and raises its own exceptions for error events, timeouts and lost connections;
`json_chunks` only asks its stream to hand each event's JSON over as it is (the
SDK's own `cast_to=object`; the stream guard's decoder checks each event before,
as it did), and `ChunkView` lets the code that reads chunks keep reading
`chunk.choices[0].delta.content` (and `.get(...)`, since it is a dict).
A field the server left out reads as None, as on the SDK's models.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any


class ChunkView(dict[str, Any]):
    """A JSON object whose keys read as attributes; nested objects come as views too."""

    __slots__ = ()

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return _view(self.get(name))


def _view(value: Any) -> Any:
    if type(value) is dict:
        return ChunkView(value)
    if type(value) is list:
        return [ChunkView(v) if type(v) is dict else v for v in value]
    return value


def raw_chunks(stream: Any) -> bool:
    """Ask an SDK stream (before it is read) to yield each chunk's JSON instead of a model;
    False when this SDK's stream has no such setting (its models are read then)."""
    if not hasattr(stream, "_cast_to"):
        return False
    stream._cast_to = object
    return True


async def json_chunks(stream: Any) -> AsyncIterator[Any]:
    """The chunks of an SDK stream (not yet read) as `ChunkView`s (as its models, if this
    SDK can't hand over the JSON)."""
    raw = raw_chunks(stream)
    async for chunk in stream:
        yield ChunkView(chunk) if raw else chunk
