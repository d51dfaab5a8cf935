"""The HTTP client the SDK and the app's plain requests share, made without the SDK.

`openai` takes ~0.4 s to import (seconds on a busy machine) and its HTTP library
`httpx2` a tenth of that. `ChatClient` builds the client with `build_http` first,
so the model list (a plain GET) needn't wait for the SDK, and hands the same
client to the SDK when it is built: one connection pool, one set of headers and
TLS trust. `as_sdk_error` turns a transport failure of a plain request into the
exception the SDK raises for it, so it is explained in the same words.
"""

from __future__ import annotations

from typing import Any


def import_httpx2() -> Any:
    """The `httpx2` module (imported on first use)."""
    import httpx2

    return httpx2


def build_http(httpx2: Any, timeout: float, connect_timeout: float, options: dict[str, Any]) -> Any:
    """What `openai.DefaultAsyncHttpx2Client(**options)` makes (the SDK's connection limits,
    redirects followed), with the client's timeouts."""
    return httpx2.AsyncClient(
        timeout=httpx2.Timeout(timeout, connect=connect_timeout),
        limits=httpx2.Limits(max_connections=1000, max_keepalive_connections=100),
        follow_redirects=True,
        **options,
    )


def as_sdk_error(openai: Any, httpx2: Any, exc: BaseException, method: str, url: str) -> BaseException:
    """The SDK's exception for a transport failure of a plain request: `APITimeoutError`
    for a timeout, else `APIConnectionError`, caused by `exc` (as the SDK chains them)."""
    request = httpx2.Request(method, url)
    timed_out = isinstance(exc, httpx2.TimeoutException)
    wrapped: BaseException = (openai.APITimeoutError(request=request) if timed_out
                              else openai.APIConnectionError(request=request))
    wrapped.__cause__ = exc
    return wrapped
