"""The served-model list, asked for the moment the app's settings are known.

Building the TUI (importing Textual, the screens and the session, painting the first
frame) takes most of a second before the app could ask the server anything, and the
header's model name and context meter wait for the answer. `prefetch_models` sends the
same GET from a thread at once, with the standard library's `http.client` (no import
worth speaking of), so the answer is usually in before the first frame.

Only the plain case is taken this way: `http://`, no proxy for the URL, no credentials
in it. HTTPS (whose trust store the app's HTTP client decides), proxies, and any
answer but a 200 are left to `ChatClient.list_models`, which asks again and explains
a failure in its usual words; a prefetch never shows an error of its own.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from vllm_chat.core.transport import Transport, proxy_for

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.config import Settings

MAX_BODY = 8 << 20
"""Bytes of a model list read at most; a longer answer is left to the normal request."""


@dataclass(frozen=True)
class PrefetchedModels:
    """A 200 answer to `GET {base_url}/models`, as it arrived."""

    url: str
    """The URL asked (credentials never in it: such URLs are not prefetched)."""
    body: bytes
    """The answer's body."""
    content_type: str
    """Its Content-Type header ("" when there was none)."""


def prefetch_models(base_url: str, api_key: str, transport: Transport,
                    timeout: float) -> Future[PrefetchedModels | None] | None:
    """Start asking `base_url` for its models in a thread; None when this URL isn't one a
    prefetch takes (see the module's docstring). The future's result is None when the
    answer wasn't a 200 that could be read whole; it never raises."""
    url = base_url.rstrip("/") + "/models"
    try:
        parts = urlsplit(url)
        port = parts.port or 80
    except ValueError:  # not a URL the app can use: the normal path says why
        return None
    if parts.scheme != "http" or not parts.hostname or parts.username or parts.password or proxy_for(url):
        return None
    headers = {"Accept": "application/json", **transport.headers}
    if api_key and api_key != "EMPTY" and not any(name.lower() == "authorization" for name in headers):
        headers["Authorization"] = f"Bearer {api_key}"
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    future: Future[PrefetchedModels | None] = Future()

    def ask() -> None:
        try:
            future.set_result(_get(url, parts.hostname or "", port, target, headers, timeout))
        except Exception:  # noqa: BLE001 - any failure means "ask the normal way"
            future.set_result(None)

    threading.Thread(target=ask, name="model-prefetch", daemon=True).start()
    return future


def _get(url: str, host: str, port: int, target: str, headers: dict[str, str],
         timeout: float) -> PrefetchedModels | None:
    import http.client

    connection = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        connection.request("GET", target, headers=headers)
        response = connection.getresponse()
        if response.status != 200:
            return None
        body = response.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            return None
        return PrefetchedModels(url, body, response.getheader("Content-Type") or "")
    finally:
        connection.close()


def prefetch_for(settings: Settings) -> Future[PrefetchedModels | None] | None:
    """`prefetch_models` for the server `settings` name (None if their headers can't be sent:
    the session says why when it starts)."""
    from vllm_chat.core.gateway_settings import transport_of
    from vllm_chat.core.transport import TransportError

    try:
        transport = transport_of(settings)
    except TransportError:
        return None
    return prefetch_models(settings.base_url, settings.api_key.get_secret_value(), transport,
                           settings.connect_timeout)
