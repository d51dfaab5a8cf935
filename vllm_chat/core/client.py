"""The connection to one vLLM server, through the official `openai` SDK's terms.

`ChatClient` builds an `AsyncOpenAI` with `max_retries=0` (a failed turn must
never be generated twice behind the user's back) and imports `openai` only
when first needed, in a thread, because the import alone costs 0.4-1.2 s.
The two requests on a user's path don't wait for it: the model list is a plain
GET (`http_pool`, `model_prefetch`) and a streamed reply is sent and read
without it (`plain_stream`, through `stream_guard`'s decoder, so a malformed
chunk is skipped and reported instead of ending the reply); both fail with the
SDK's exceptions. `explain()` turns any of them into a `ChatError` a user can
act on; it is the single place that knows vLLM's error texts. Text a server
sends back (an error page, a message) is quoted as a short excerpt, never whole.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import AsyncIterator
from concurrent.futures import Future
from contextlib import aclosing
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vllm_chat.core import plain_stream
from vllm_chat.core.chunk_view import ChunkView
from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.generation.preflight import wire_body
from vllm_chat.core.http_pool import as_sdk_error, build_http, import_httpx2
from vllm_chat.core.model_prefetch import PrefetchedModels
from vllm_chat.core.models import ModelInfo
from vllm_chat.core.responses import describe_body, excerpt, parse_models
from vllm_chat.core.stream_guard import FaultLog
from vllm_chat.core.transport import Transport
from vllm_chat.core.urls import redact_urls, root_url, suggest_base_url

if TYPE_CHECKING:  # pragma: no cover
    from openai import AsyncOpenAI


def _import_openai() -> Any:
    import openai
    import openai.resources.chat  # noqa: F401 - loaded by the first `sdk.chat`: here, not on a turn's path

    return openai


class ChatClient:
    """A vLLM server at `base_url`, reached through `AsyncOpenAI`."""

    def __init__(
        self,
        base_url: str,
        api_key: str = "EMPTY",
        *,
        timeout: float = 600.0,
        connect_timeout: float = 5.0,
        transport: Transport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        """The OpenAI-compatible base URL, `/v1` included (credentials and all: the SDK needs them)."""
        self.shown_url = redact_urls(self.base_url)
        """`base_url` as messages show it: a password or token in it is `***`."""
        self.transport = transport or Transport()
        """Extra headers, TLS trust and the routing header: every request goes through them."""
        self.timeout = timeout
        """Seconds without a byte before a request fails."""
        self._api_key = api_key or "EMPTY"
        self._connect_timeout = connect_timeout
        self._sdk: AsyncOpenAI | None = None
        self._http: Any = None
        self._lock = asyncio.Lock()
        self._prefetch: Future[PrefetchedModels | None] | None = None

    def adopt_prefetch(self, prefetch: Future[PrefetchedModels | None] | None) -> None:
        """Answer the next `list_models` with the list asked for at launch (`model_prefetch`)."""
        self._prefetch = prefetch

    @property
    def has_api_key(self) -> bool:
        """Whether a real key was configured (the SDK needs *some* value either way)."""
        return self._api_key != "EMPTY"

    async def sdk(self) -> AsyncOpenAI:
        """The SDK client, created on first use (the import runs in a thread)."""
        if self._sdk is None:
            http = await self.http()
            async with self._lock:
                if self._sdk is None:
                    openai = await asyncio.to_thread(_import_openai)
                    self._sdk = self._build(openai, http)
        return self._sdk

    def sdk_now(self) -> AsyncOpenAI:
        """The SDK client, importing `openai` synchronously (for scripts and one-shot mode)."""
        if self._sdk is None:
            self._sdk = self._build(_import_openai(), self._http or self._build_http(import_httpx2()))
        return self._sdk

    def _build(self, openai: Any, http: Any) -> AsyncOpenAI:
        self._http = http
        sdk: AsyncOpenAI = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self._api_key,
            max_retries=0,
            timeout=openai.Timeout(self.timeout, connect=self._connect_timeout),
            http_client=http,
            # Also here: the SDK's own Authorization (the API key) would win over the HTTP
            # client's, and a gateway's Authorization header must win over the key.
            default_headers=dict(self.transport.headers),
        )
        return sdk

    def _build_http(self, httpx2: Any) -> Any:
        return build_http(httpx2, self.timeout, self._connect_timeout, self.transport.http_client_options())

    async def http(self) -> Any:
        """The SDK's HTTP client, made first (see `http_pool`); `auth_headers` for plain requests."""
        if self._http is None:
            async with self._lock:
                if self._http is None:
                    self._http = self._build_http(await asyncio.to_thread(import_httpx2))
        return self._http

    @property
    def auth_headers(self) -> dict[str, str]:
        """The Authorization header for plain requests (empty without an API key, or when an
        extra header is the Authorization a gateway wants)."""
        return self.sdk_auth_headers if self.has_api_key else {}

    @property
    def sdk_auth_headers(self) -> dict[str, str]:
        """The Authorization header as the SDK sends it (`Bearer EMPTY` without a key), unless
        an extra header is the Authorization a gateway wants: the requests that replace the
        SDK's own (model list, streams, counts, titles) reach the server exactly as before."""
        if any(name.lower() == "authorization" for name in self.transport.headers):
            return {}
        return {"Authorization": f"Bearer {self._api_key}"}

    @property
    def root_url(self) -> str:
        """The server root (where `/metrics`, `/version` and `/tokenize` live)."""
        return root_url(self.base_url)

    async def list_models(self) -> list[ModelInfo]:
        """The served models, or `ChatErrorException` explaining why not: a plain GET as the
        SDK sends it, not waiting for its import; an answer but a 200 is asked again through
        the SDK (answered at once), so every refusal is explained as the SDK's would be."""
        if (prefetched := await self._prefetched()) is not None:
            return parse_models(prefetched.body, prefetched.content_type, url=f"{self.shown_url}/models")
        http, url = await self.http(), self.base_url + "/models"
        try:
            response = await http.get(url, headers=self.sdk_auth_headers)
        except Exception as exc:  # what the SDK turns into APITimeoutError / APIConnectionError
            openai = await asyncio.to_thread(_import_openai)
            raise ChatErrorException(self.explain(as_sdk_error(openai, import_httpx2(), exc, "GET", url))) from exc
        if response.status_code != 200:
            sdk = await self.sdk()
            try:
                response = await sdk.models.with_raw_response.list()
            except Exception as exc:  # every SDK failure becomes a ChatError
                raise ChatErrorException(self.explain(exc)) from exc
        return parse_models(response.content, response.headers.get("content-type", ""),
                            url=f"{self.shown_url}/models")

    async def _prefetched(self) -> PrefetchedModels | None:
        """The launch's model list (once), if it is a 200 from this client's URL."""
        future, self._prefetch = self._prefetch, None
        if future is None:
            return None
        try:
            answer = await asyncio.wait_for(asyncio.wrap_future(future), self._connect_timeout)
        except asyncio.TimeoutError:
            return None
        return answer if answer is not None and answer.url == self.base_url + "/models" else None

    async def stream_chat(self, request: dict[str, Any], faults: FaultLog | None = None) -> AsyncIterator[Any]:
        """Yield the chunks of a streamed chat request (`ChunkView`s); closing the generator
        closes the HTTP response, which makes vLLM abort the generation.

        Malformed chunks are left out and noted in `faults` (see `stream_guard`)."""
        async for chunk in self._stream("/chat/completions", request, faults):
            yield chunk

    async def stream_completion(self, request: dict[str, Any], faults: FaultLog | None = None) -> AsyncIterator[Any]:
        """Yield a streamed `/v1/completions` request's chunks shaped like chat chunks (each
        choice's `text` as `delta.content`), so the engine's one streaming path takes both.
        Malformed chunks are left out and noted in `faults`, as for `stream_chat`."""
        from vllm_chat.core.completion_chunks import as_chat_chunk

        async for chunk in self._stream("/completions", request, faults):
            yield as_chat_chunk(chunk)

    async def _stream(self, path: str, request: dict[str, Any], faults: FaultLog | None) -> AsyncIterator[Any]:
        """POST `request` (the SDK's keyword arguments) to `path` as a stream: the JSON body it
        is, sent and read without the SDK (see `plain_stream`), its exceptions on failure."""
        body = {**wire_body(request), "stream": True}
        response = await plain_stream.post(self, path, body, request.get("extra_headers"), stream=True)
        async with aclosing(plain_stream.chunks(self, response, faults)) as chunks:
            async for chunk in chunks:
                yield chunk

    async def complete(self, request: dict[str, Any]) -> ChunkView:
        """A non-streamed chat request (used for short side requests such as titles): the
        answer's JSON, read as the SDK's model is (`answer.choices[0].message.content`)."""
        body = {**wire_body(request), "stream": False}
        response = await plain_stream.post(self, "/chat/completions", body, request.get("extra_headers"))
        return ChunkView(response.json())

    async def post_text(self, path: str, body: dict[str, Any]) -> str:
        """POST `body` as JSON to a route of vLLM's own under the base URL (e.g.
        `/load_lora_adapter`), through the SDK's HTTP client (same base URL, key, timeouts),
        and return the answer's text. The SDK's exceptions propagate: the caller explains
        them, since a 404 means something else on every such route."""
        sdk = await self.sdk()
        return await sdk.post(path, cast_to=str, body=body)

    async def aclose(self) -> None:
        """Close the connection pool."""
        if self._sdk is not None:
            await self._sdk.close()
        elif self._http is not None:
            await self._http.aclose()

    def explain(self, exc: BaseException, *, mid_stream: bool = False, model: str | None = None) -> ChatError:
        """Describe an exception from the SDK (or the transport) for the user."""
        return explain(exc, base_url=self.shown_url, has_api_key=self.has_api_key,
                       timeout=self.timeout, connect_timeout=self._connect_timeout,
                       mid_stream=mid_stream, model=model, ca_bundle=self.transport.ca_bundle)


def _caused_by(exc: BaseException, *names: str) -> bool:
    """Whether an exception in the chain that led to `exc` has one of these class names
    (httpx's own timeouts, which the SDK wraps in `APITimeoutError`)."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if type(node).__name__ in names:
            return True
        node = node.__cause__ or node.__context__
    return False


_CONTEXT_RE = re.compile(r"maximum context length is (\d+) tokens")
_VALID_MODELS_RE = re.compile(r"Valid aliases: (.+?)\.?$")


def _server_message(exc: Any) -> str:
    """The server's own words about an error, quoted short: the JSON error's message,
    else a description of what arrived (an HTML page is never quoted whole)."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        for key in ("message", "detail", "error"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return excerpt(value, 1000)
    if isinstance(body, str) and body:
        response = getattr(exc, "response", None)
        ctype = response.headers.get("content-type", "") if response is not None else ""
        text = body.strip()
        if len(text) <= 300 and "html" not in ctype and not text.startswith("<"):
            return text
        return f"it sent {describe_body(body, ctype)} instead of an API error (JSON)"
    return excerpt(str(getattr(exc, "message", "") or exc), 1000)


def explain(
    exc: BaseException,
    *,
    base_url: str,
    has_api_key: bool = False,
    timeout: float = 600.0,
    connect_timeout: float = 5.0,
    mid_stream: bool = False,
    model: str | None = None,
    ca_bundle: Path | None = None,
) -> ChatError:
    """Map an SDK exception onto a `ChatError` with a message and a fix.

    `mid_stream` says whether part of the reply had already arrived; a
    connection lost then is a cut-off reply, not an unreachable server.
    `ca_bundle`: the CA file in use, named when a certificate can't be verified.
    """
    if isinstance(exc, ChatErrorException):
        return exc.error
    # Whatever raised an SDK exception imported the SDK first; without it, `exc` is none.
    openai = sys.modules.get("openai")
    if openai is None:
        return _internal(exc)
    if isinstance(exc, openai.APITimeoutError):
        if _caused_by(exc, "ConnectTimeout", "PoolTimeout"):
            return ChatError(
                "timeout",
                f"The server did not accept the connection within {connect_timeout:g} s.",
                "It may be overloaded (vLLM accepts connections slowly under heavy load). "
                "Retry the turn in a moment.",
                retryable=True,
            )
        return ChatError(
            "timeout",
            f"The server sent nothing for {timeout:g} s.",
            "It may be overloaded or stuck. Retry the turn, or raise request_timeout in the config.",
            retryable=True,
        )
    if isinstance(exc, openai.APIConnectionError):
        from vllm_chat.core.tls_errors import tls_problem

        tls = None if mid_stream else tls_problem(exc, base_url=base_url, ca_bundle=ca_bundle)
        if tls is not None:
            return tls
        if mid_stream:
            return ChatError(
                "truncated",
                "The connection to the server broke in the middle of the reply.",
                "The partial reply is kept. Retry the turn once the server is back.",
                retryable=True,
            )
        return ChatError(
            "connection",
            f"Can't reach the server at {base_url}.",
            "Is `vllm serve` running there? vLLM refuses connections while it loads a model; "
            "vllm-chat keeps trying and says when the server is back.",
            retryable=True,
            details={"url": base_url},
        )
    if isinstance(exc, openai.APIStatusError):
        return _explain_status(exc, base_url=base_url, has_api_key=has_api_key, model=model)
    if isinstance(exc, openai.APIError):
        message = _server_message(exc)
        code = str(getattr(exc, "code", "") or "")
        if code.startswith("4"):
            return _explain_bad_request(message, status=int(code), model=model)
        return ChatError(
            "stream_error",
            f"The server reported an error in the middle of the reply: {message}",
            "The partial reply is kept. Retry the turn; if it keeps happening, check the server log.",
            status=int(code) if code.isdigit() else None,
            retryable=True,
        )
    return _internal(exc)


def _internal(exc: BaseException) -> ChatError:
    return ChatError(
        "internal",
        f"Unexpected error: {type(exc).__name__}: {exc}",
        "This is a bug in vllm-chat; the conversation is kept. Please report it.",
    )


def _explain_status(exc: Any, *, base_url: str, has_api_key: bool, model: str | None) -> ChatError:
    status = exc.status_code
    message = _server_message(exc)
    if status == 401:
        if has_api_key:
            return ChatError(
                "auth",
                "The server refused the API key (401 Unauthorized).",
                "Check the key you passed with --api-key, VLLM_CHAT_API_KEY or api_key in the config.",
                status=401,
            )
        return ChatError(
            "auth",
            "The server wants an API key (401 Unauthorized).",
            "Pass the key vLLM was started with (--api-key) using --api-key, "
            "VLLM_CHAT_API_KEY or api_key in the config. A gateway in front of the server may want a "
            "header of its own instead: --header 'Name: value' or [headers] in the config.",
            status=401,
        )
    body = getattr(exc, "body", None)
    if status in (404, 405) and isinstance(body, dict) and "detail" in body:
        suggestion = suggest_base_url(base_url)
        hint = (
            f"Did you mean --base-url {suggestion} ?"
            if suggestion
            else "Check the base URL: it should end in /v1, e.g. http://localhost:8000/v1."
        )
        return ChatError(
            "wrong_path",
            f"{base_url} is not an OpenAI-compatible API ({status} {body.get('detail')}).",
            hint,
            status=status,
            details={"suggestion": suggestion} if suggestion else {},
        )
    if status == 404 and "does not exist" in message:
        found = _VALID_MODELS_RE.search(message)
        models = [m.strip() for m in found.group(1).split(",")] if found else []
        served = f"It serves: {', '.join(models)}. " if models else ""
        return ChatError(
            "unknown_model",
            f"The server does not serve the model {model!r}." if model else message,
            served + "Pick one with {pick-model}.",
            status=404,
            details={"models": models},
        )
    if status in (429, 503):
        from vllm_chat.core.busy import busy_error

        return busy_error(exc, status, message)
    if status >= 500:
        return ChatError(
            "server",
            f"The server failed ({status}): {message}",
            "Retry the turn; if it keeps failing, check the vLLM server log.",
            status=status,
            retryable=True,
        )
    return _explain_bad_request(message, status=status, model=model)


def _explain_bad_request(message: str, *, status: int, model: str | None) -> ChatError:
    from vllm_chat.core.generation.errors import explain_refusal

    refusal = explain_refusal(message, status=status, model=model)
    if refusal is not None:
        return refusal
    context = _CONTEXT_RE.search(message)
    if context:
        limit = int(context.group(1))
        return ChatError(
            "context_length",
            f"The conversation no longer fits the model's context window of {limit} tokens.",
            "Compact it ({compact}: the older turns become a summary), start a new conversation "
            "({new-conversation}), delete or shorten earlier messages, or lower max_tokens.",
            status=status,
            details={"max_model_len": limit, "server_message": message},
        )
    if "tool choice requires" in message or "requires --tool-call-parser" in message:
        return ChatError(
            "tools_unsupported",
            "This server was started without tool calling.",
            "Restart vLLM with --enable-auto-tool-choice --tool-call-parser NAME (e.g. hermes for "
            "Qwen), or continue without tools.",
            status=status,
            details={"server_message": message},
        )
    # Imported here: the media helpers pull in the attachment store, which a
    # turn without an error never needs.
    from vllm_chat.core.media.requests import (
        is_not_multimodal_error,
        parse_media_limit_error,
    )

    if is_not_multimodal_error(message):
        return ChatError(
            "not_multimodal",
            f"{model or 'This model'} can't see images, video or audio (it is not a multimodal model).",
            "Send the message without the attachments, or switch to a vision model.",
            status=status,
            details={"server_message": message},
        )
    media = parse_media_limit_error(message)
    if media:
        modality, limit = media
        if limit == 0:
            what = f"The server takes no {modality} at all (its --limit-mm-per-prompt sets {modality} to 0)."
            hint = "Send the message without them, or restart vLLM with a higher --limit-mm-per-prompt."
        else:
            what = (f"The server accepts at most {limit} {modality}(s) per request, "
                    "and every earlier one in the conversation counts.")
            hint = ("Send only the most recent ones (older ones are replaced by a note), or restart vLLM "
                    "with a higher --limit-mm-per-prompt.")
        return ChatError(
            "too_many_media",
            what,
            hint,
            status=status,
            details={"limit": limit, "modality": modality, "server_message": message},
        )
    return ChatError(
        "bad_request",
        f"The server rejected the request ({status}): {message}",
        "Check the sampling settings ({open-settings}) and the model; the conversation is kept.",
        status=status,
        details={"server_message": message},
    )
