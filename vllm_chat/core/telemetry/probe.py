"""Plain HTTP requests to a vLLM server's root: `/version`, `/metrics`, `/tokenize`,
`/detokenize` and the chat render endpoint.

These are not OpenAI endpoints, so they are not SDK calls: they go through the
SDK's own HTTP client (`ChatClient.http()`, sharing its connections) with the
same base URL and API key. Each has a short timeout of its own: a server whose
`/metrics` is missing, behind a proxy's auth, or slow must never hold up a
chat. Every failure becomes a `ProbeError` whose text says why, in a few words
a panel can show ("not reported: /metrics answered 404 Not Found").
"""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit

from vllm_chat.core.client import ChatClient

PROBE_TIMEOUT = 2.0
"""Seconds a telemetry request may take (connect included) before it is given up."""
RENDER_TIMEOUT = 10.0
"""Seconds for `/tokenize`, `/detokenize` and render: a long conversation takes a while to template."""
MAX_METRICS_BYTES = 4 * 1024 * 1024
"""A `/metrics` answer larger than this is not read (vLLM's is ~60 kB)."""


class ProbeError(Exception):
    """A root endpoint gave no usable answer; `str()` says why, for a person."""

    def __init__(self, reason: str, *, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        """Why, in a few words."""
        self.status = status
        """The HTTP status, when the server answered."""

    @property
    def missing(self) -> bool:
        """The server has no such endpoint (or it is switched off)."""
        return self.status in (403, 404, 405, 501)

    @property
    def denied(self) -> bool:
        """Something in front of the endpoint wants credentials we don't have."""
        return self.status == 401


async def _request(client: ChatClient, method: str, path: str, *, body: Any = None,
                   timeout: float = PROBE_TIMEOUT, limit: int = MAX_METRICS_BYTES) -> bytes:
    """The body of a 200 answer to `method path` at the server root, or `ProbeError`."""
    import httpx2

    http = await client.http()
    url = path if path.startswith(("http://", "https://")) else client.root_url + path
    path = urlsplit(url).path  # what messages name
    headers = dict(client.auth_headers)
    content = None
    if body is not None:
        headers["Content-Type"] = "application/json"
        content = json.dumps(body).encode()
    async def fetch() -> tuple[int, str, bytes]:
        async with http.stream(method, url, headers=headers, content=content,
                               timeout=httpx2.Timeout(timeout)) as response:
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > limit:
                    raise ProbeError(f"{path} answered more than {limit // 1024} kB; not read")
                chunks.append(chunk)
            return response.status_code, response.reason_phrase, b"".join(chunks)

    try:
        # One deadline for the whole answer: httpx's timeouts are per read, and a server
        # trickling bytes would otherwise keep a panel waiting far longer.
        status, reason, data = await asyncio.wait_for(fetch(), timeout)
    except (asyncio.TimeoutError, httpx2.TimeoutException):
        raise ProbeError(f"no answer from {path} within {timeout:g} s") from None
    except httpx2.HTTPError as exc:
        raise ProbeError(f"can't reach {path} ({type(exc).__name__})") from None
    if status == 401:
        raise ProbeError(f"{path} wants credentials (401 Unauthorized)", status=401)
    if status != 200:
        detail = _error_text(data)
        if detail.lower() == (reason or "").lower():
            detail = ""  # FastAPI's {"detail": "Not Found"} says nothing the status didn't
        raise ProbeError(f"{path} answered {status} {reason}" + (f": {detail}" if detail else ""),
                         status=status)
    return data


def _error_text(data: bytes) -> str:
    """The message of an error body (vLLM's envelope, FastAPI's detail), short."""
    try:
        doc = json.loads(data)
    except ValueError:
        return ""
    if isinstance(doc, dict):
        error = doc.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])[:300]
        for key in ("detail", "error", "message"):
            if isinstance(doc.get(key), str):
                return str(doc[key])[:300]
    return ""


def _json(data: bytes, path: str) -> Any:
    try:
        return json.loads(data)
    except ValueError:
        raise ProbeError(f"{path} did not answer JSON") from None


async def fetch_version(client: ChatClient, timeout: float = PROBE_TIMEOUT) -> str:
    """The vLLM version (`GET /version`, answered within `timeout` seconds), or `ProbeError`."""
    doc = _json(await _request(client, "GET", "/version", timeout=timeout), "/version")
    version = doc.get("version") if isinstance(doc, dict) else None
    if not isinstance(version, str) or not version:
        raise ProbeError("/version did not say which version")
    return version[:100]


async def fetch_metrics_text(client: ChatClient, timeout: float = PROBE_TIMEOUT) -> str:
    """The Prometheus exposition (`GET /metrics`), or `ProbeError`."""
    data = await _request(client, "GET", "/metrics", timeout=timeout)
    return data.decode("utf-8", errors="replace")


async def post_json(client: ChatClient, path: str, body: dict[str, Any],
                    timeout: float = RENDER_TIMEOUT) -> dict[str, Any]:
    """POST `body` to `path` at the server root (or to a whole URL) and return the JSON
    object it answers, or `ProbeError`."""
    doc = _json(await _request(client, "POST", path, body=body, timeout=timeout), path)
    if not isinstance(doc, dict):
        raise ProbeError(f"{path} did not answer a JSON object")
    return doc
