"""Requests sent and read without the SDK, failing with the SDK's exceptions.

`import openai` takes over a second of CPU on the 2-core machine (its types are hundreds
of pydantic models, 57,000 objects for the garbage collector to walk, 23 MB), and a
streamed reply needs nothing from it when all goes well, nor does a title's short
request: the body is already the JSON the server wants (`wire_body`), the server-sent
events are read by the stream guard's `CheckedSSEDecoder`, and the answers are read as
JSON (`ChunkView`). So `vllm-chat -p` answers without importing it, and the TUI imports
it only to explain a failure or to load a LoRA adapter.

What goes wrong is still said in the SDK's terms, so `explain` stays the one place that
knows what each failure means: a refusal becomes the exception the SDK would raise for
it (`_make_status_error_from_response`, its own reading of an error body), a lost or
silent connection its `APIConnectionError` / `APITimeoutError`, an error event in the
stream its `APIError`. The SDK is imported then, on the way to saying what happened.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from vllm_chat.core.chunk_view import ChunkView
from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.http_pool import as_sdk_error, import_httpx2
from vllm_chat.core.stream_guard import CheckedSSEDecoder, FaultLog

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.client import ChatClient


async def post(client: ChatClient, path: str, body: dict[str, Any], headers: dict[str, str] | None = None,
               *, stream: bool = False) -> Any:
    """POST `body` as JSON to `path` under the base URL and return the response once its
    status is a success (its body not yet read when `stream`); raises the SDK's exception
    for a refusal or a transport failure."""
    import httpx2

    http = await client.http()
    url = client.base_url + path
    content = json.dumps(body, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()
    sent = {"Content-Type": "application/json", "Accept": "application/json",
            **client.sdk_auth_headers, **(headers or {})}
    try:
        response = await http.send(http.build_request("POST", url, content=content, headers=sent), stream=stream)
        if response.is_success:
            return response
        try:
            await response.aread()
        finally:
            await response.aclose()
    except httpx2.RequestError as exc:  # what the SDK wraps as well
        raise await sdk_transport_error(exc, url) from exc
    sdk = await client.sdk()
    raise sdk._make_status_error_from_response(response)  # the SDK's own reading of the refusal


async def chunks(client: ChatClient, response: Any, faults: FaultLog | None) -> AsyncGenerator[ChunkView, None]:
    """The stream's chunks until `[DONE]`; the response is closed when they end or the
    reader stops early (which makes vLLM abort the generation). A connection lost on the
    way is a cut-off reply (`ChatErrorException`, `truncated`); silence for the read
    timeout is the SDK's `APITimeoutError`; an error event, its `APIError`."""
    import httpx2

    decoder = CheckedSSEDecoder(faults)
    received = response.aiter_bytes()
    try:
        async for event in decoder.aiter_bytes(received):
            if event.data.startswith("[DONE]"):
                async for _ in received:  # the rest, so the connection can be reused
                    pass
                return
            data = event.json()
            if isinstance(data, dict) and data.get("error"):
                raise await _stream_error(data["error"], response.request)
            yield ChunkView(data) if type(data) is dict else data
    except httpx2.RequestError as exc:  # what the SDK wraps as well
        error = await sdk_transport_error(exc, str(response.request.url))
        if isinstance(exc, httpx2.TimeoutException):
            raise error from exc
        # The server had answered 200 and started the stream, so it is reachable: the
        # reply was cut, even if no token had arrived yet.
        raise ChatErrorException(client.explain(error, mid_stream=True)) from exc
    finally:
        await response.aclose()


async def sdk_transport_error(exc: BaseException, url: str) -> BaseException:
    """The SDK's exception for a transport failure of a POST to `url` (see `as_sdk_error`)."""
    from vllm_chat.core.client import _import_openai

    return as_sdk_error(await asyncio.to_thread(_import_openai), import_httpx2(), exc, "POST", url)


async def _stream_error(error: Any, request: Any) -> BaseException:
    """The SDK's `APIError` for an error event in the stream, worded as it words it."""
    from vllm_chat.core.client import _import_openai

    openai = await asyncio.to_thread(_import_openai)
    message = error.get("message") if isinstance(error, dict) else None
    if not isinstance(message, str) or not message:
        message = "An error occurred during streaming"
    raised: BaseException = openai.APIError(message=message, request=request, body=error)
    return raised
