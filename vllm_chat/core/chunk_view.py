"""ChunkView: a streamed chunk read straight from its JSON, with the SDK's attribute access.

The SDK turns every chunk of a stream into a tree of pydantic models (chunk, choice,
delta, usage...). At one chunk per token that was the largest cost of streaming, for
the app and for a bare SDK loop alike: several times what decoding the JSON costs.
Streams are read without the SDK (`plain_stream`, each event checked by the stream
guard's decoder), and `ChunkView` lets the code that reads chunks keep reading
`chunk.choices[0].delta.content` (and `.get(...)`, since it is a dict).
A field the server left out reads as None, as on the SDK's models.
"""

from __future__ import annotations

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
