"""Raw HTTP helpers for byte-level tests of the simulated server."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from .captures import sse_events


@dataclass
class Reply:
    """A response read to the end (or to where the server cut it)."""

    status: int
    """Status code."""
    headers: dict[str, str]
    """Response headers, lower-cased."""
    raw: bytes
    """The body as received."""
    cut: bool = False
    """Whether the body ended without the chunked terminator."""

    @property
    def json(self) -> Any:
        """The body as JSON."""
        return json.loads(self.raw)

    @property
    def events(self) -> list[Any]:
        """SSE `data:` payloads (JSON objects, or `[DONE]`)."""
        return sse_events(self.raw)

    @property
    def chunks(self) -> list[dict[str, Any]]:
        """SSE payloads that are chunks (not `[DONE]`)."""
        return [e for e in self.events if e != "[DONE]"]

    def deltas(self, index: int = 0) -> list[dict[str, Any]]:
        """The `delta` of every chunk of one choice, in order."""
        return [c["choices"][0]["delta"] for c in self.chunks
                if c.get("choices") and c["choices"][0]["index"] == index and "delta" in c["choices"][0]]

    def text(self, key: str = "content", index: int = 0) -> str:
        """All deltas' `key` strings joined."""
        return "".join(d.get(key) or "" for d in self.deltas(index))

    def finish(self, index: int = 0) -> dict[str, Any]:
        """The choice object of a choice's finish chunk."""
        return next(c["choices"][0] for c in self.chunks
                    if c.get("choices") and c["choices"][0]["index"] == index and c["choices"][0].get("finish_reason"))


async def request(http: aiohttp.ClientSession, method: str, url: str, body: Any = None,
                  headers: dict[str, str] | None = None, raw: bytes | None = None) -> Reply:
    """Send a request and read the whole body, tolerating a cut connection."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    sent_headers = {"Content-Type": "application/json"} if data is not None else {}
    sent_headers.update(headers or {})
    parts: list[bytes] = []
    cut = False
    async with http.request(method, url, data=data, headers=sent_headers) as response:
        try:
            async for part in response.content.iter_any():
                parts.append(part)
        except aiohttp.ClientPayloadError:
            cut = True
        return Reply(response.status, {k.lower(): v for k, v in response.headers.items()}, b"".join(parts), cut)


async def chat(http: aiohttp.ClientSession, server: Any, body: dict[str, Any], **headers: str) -> Reply:
    """POST /v1/chat/completions (model `sim-chat` unless the body names one)."""
    return await request(http, "POST", server.base_url + "/chat/completions", {"model": "sim-chat", **body}, headers)


def user(text: str) -> list[dict[str, Any]]:
    """A one-message conversation."""
    return [{"role": "user", "content": text}]
