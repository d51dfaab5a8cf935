"""Every way a turn can fail becomes a `ChatError` a user can act on.

Each case is produced for real: the simulated vLLM (with its faults), a port
nothing listens on, vLLM's own error bodies replayed over HTTP, or a small
server that stalls mid-reply. The turn runs through the real `ChatClient`
(the openai SDK) and `Engine`; the test reads the error's kind, message,
hint, status and `retryable` flag, and the partial reply the turn kept.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.replay import Capture, ReplayServer
from vllm_chat.core.client import ChatClient, explain, suggest_base_url
from vllm_chat.core.config import ToolsSettings
from vllm_chat.core.conversation import Attachment, Conversation, Message
from vllm_chat.core.engine import Engine
from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.events import TurnFailed
from vllm_chat.core.tools.approval import ApprovalPolicy
from vllm_chat.core.tools.registry import ToolRegistry
from vllm_chat.core.turn_request import TurnOptions
from vllm_chat.simserver import SimConfig, SimServer


@dataclass
class Failed:
    """How a turn failed: the error and the assistant message it kept."""

    error: ChatError
    partial: Message


async def failed_turn(
    base_url: str,
    prompt: str = "hi",
    *,
    model: str = "sim-chat",
    api_key: str = "EMPTY",
    timeout: float = 600.0,
    attachments: list[Attachment] | None = None,
    tools: bool = False,
    tool_choice: str = "auto",
) -> Failed:
    """Run one turn that must fail; returns its error and the kept assistant message."""
    client = ChatClient(base_url, api_key, timeout=timeout)
    conv = Conversation(model=model)
    conv.add(Message(role="user", content=prompt, attachments=attachments or []))
    registry = None
    if tools:
        registry, problems = ToolRegistry.from_settings(ToolsSettings(), root=Path.cwd())
        assert problems == []
    engine = Engine(client, tools=registry, approval=ApprovalPolicy(registry) if registry else None)
    options = TurnOptions(tools_enabled=tools, tool_choice=tool_choice)  # type: ignore[arg-type]
    try:
        events = [e async for e in engine.run(conv, options)]
    finally:
        await client.aclose()
    last = events[-1]
    assert isinstance(last, TurnFailed), f"the turn did not fail: {last!r}"
    assert last.partial is conv.messages[-1] and last.partial.status == "failed"
    assert conv.messages[0].content == prompt, "the user's message is kept"
    return Failed(last.error, last.partial)


async def listing_error(base_url: str, api_key: str = "EMPTY") -> ChatError:
    """The error `list_models` (the app's first request) raises for `base_url`."""
    client = ChatClient(base_url, api_key)
    try:
        with pytest.raises(ChatErrorException) as caught:
            await client.list_models()
    finally:
        await client.aclose()
    return caught.value.error


def refused_url() -> str:
    """A loopback URL whose port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def vllm_error(status: int, message: str, type_: str = "BadRequestError") -> Capture:
    """vLLM's JSON error envelope, as a replayable response."""
    body = {"error": {"message": message, "type": type_, "param": None, "code": status}}
    return Capture(status, {"content-type": "application/json"}, json.dumps(body).encode())


def sse(*deltas: dict, finish: str | None = None, done: bool = True) -> Capture:
    """A vLLM-shaped stream of `deltas` (then a finish chunk when `finish` is given)."""
    events = [_chunk(d) for d in deltas]
    if finish is not None:
        events.append(_chunk({}, finish))
    if done:
        events.append(b"data: [DONE]")
    return Capture(200, {"content-type": "text/event-stream; charset=utf-8"}, b"\n\n".join(events) + b"\n\n")


def _chunk(delta: dict, finish: str | None = None) -> bytes:
    doc = {"id": "chatcmpl-0123456789abcdef", "object": "chat.completion.chunk", "created": 1764000000,
           "model": "tiny-llama",
           "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish,
                        "token_ids": None}]}
    return b"data: " + json.dumps(doc, separators=(",", ":")).encode()


@asynccontextmanager
async def replaying(capture: Capture) -> AsyncIterator[str]:
    """A real HTTP server answering every chat request with `capture`; yields its base URL."""
    async with ReplayServer() as server:
        server.capture = capture
        yield server.base_url


@asynccontextmanager
async def stalling_after(*deltas: dict) -> AsyncIterator[str]:
    """A server that streams `deltas`, then goes silent with the connection open."""
    release = asyncio.Event()

    async def chat(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"content-type": "text/event-stream; charset=utf-8"})
        await response.prepare(request)
        for delta in deltas:
            await response.write(_chunk(delta) + b"\n\n")
        await release.wait()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        release.set()
        await runner.cleanup()


def png_attachment(name: str = "cat.png") -> Attachment:
    """A real (tiny) PNG attached by data URL."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(buffer, "PNG")
    url = "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()
    return Attachment(kind="image", name=name, mime="image/png", url=url)


# --- the server can't be reached or refuses us ------------------------------------------------------


async def test_a_refused_connection_names_the_url_and_asks_whether_vllm_serve_runs() -> None:
    url = refused_url()
    failed = await failed_turn(url)
    error = failed.error
    assert error.kind == "connection"
    assert url in error.message and "vllm serve" in error.hint
    assert error.retryable and error.details == {"url": url}
    assert failed.partial.content == ""
    assert (await listing_error(url)).kind == "connection", "the model list fails the same way"


async def test_a_server_that_wants_a_key_says_how_to_pass_one() -> None:
    async with SimServer(SimConfig(api_key="right-key")) as server:
        error = (await failed_turn(server.base_url)).error
        listed = await listing_error(server.base_url)
    assert error.kind == "auth" and error.status == 401 and not error.retryable
    assert "wants an API key" in error.message
    assert "--api-key" in error.hint and "VLLM_CHAT_API_KEY" in error.hint
    assert listed == error


async def test_a_wrong_key_is_reported_as_refused_not_as_missing() -> None:
    async with SimServer(SimConfig(api_key="right-key")) as server:
        error = (await failed_turn(server.base_url, api_key="wrong-key")).error
        listed = await listing_error(server.base_url, api_key="wrong-key")
    assert error.kind == "auth" and error.status == 401 and not error.retryable
    assert "refused the API key" in error.message and "wants" not in error.message
    assert "Check the key" in error.hint and "--api-key" in error.hint
    assert listed == error


# --- the URL or the model is wrong ------------------------------------------------------------------


async def test_a_base_url_without_v1_suggests_the_corrected_url() -> None:
    async with SimServer(SimConfig()) as server:
        error = (await failed_turn(server.root_url)).error
        listed = await listing_error(server.root_url)
    assert error.kind == "wrong_path" and error.status == 404 and not error.retryable
    assert server.root_url in error.message and "Not Found" in error.message
    assert error.hint == f"Did you mean --base-url {server.base_url} ?"
    assert error.details == {"suggestion": server.base_url}
    assert listed.kind == "wrong_path" and listed.details == {"suggestion": server.base_url}


@pytest.mark.parametrize("path", ["/api/v1", "/v2", "/v10", "/v1/chat/completions", "/v1/models"])
async def test_a_wrong_path_suggests_a_different_url_that_works(path: str) -> None:
    async with SimServer(SimConfig()) as server:
        given = server.root_url + path
        error = (await failed_turn(given)).error
        suggestion = error.details["suggestion"]
        assert error.kind == "wrong_path" and suggestion != given
        assert error.hint == f"Did you mean --base-url {suggestion} ?"
        client = ChatClient(str(suggestion))
        try:
            assert [m.id for m in await client.list_models()] == ["sim-chat", "sim-vision"]
        finally:
            await client.aclose()


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("http://h:8000", "http://h:8000/v1"),
        ("http://h:8000/", "http://h:8000/v1"),
        ("http://h:8000/api/v1", "http://h:8000/v1"),
        ("http://h:8000/api/v1/", "http://h:8000/v1"),
        ("http://h:8000/v2", "http://h:8000/v1"),
        ("http://h:8000/v10", "http://h:8000/v1"),
        ("https://h/v1/chat/completions", "https://h/v1"),
        ("https://h/proxy/v1/models", "https://h/proxy/v1"),
        ("http://h:8000/v1", None),
        ("http://h:8000/v1/", None),
        ("h:8000/v1", None),
        ("not a url", None),
    ],
)
def test_the_suggested_base_url_is_useful_or_none_never_the_given_one(given: str, expected: str | None) -> None:
    assert suggest_base_url(given) == expected


async def test_an_unknown_model_lists_the_names_the_server_serves() -> None:
    async with SimServer(SimConfig()) as server:
        error = (await failed_turn(server.base_url, model="llama-70b")).error
    assert error.kind == "unknown_model" and error.status == 404 and not error.retryable
    assert "'llama-70b'" in error.message
    assert "It serves: sim-chat, sim-vision." in error.hint
    assert "{pick-model}" in error.hint, "the step is a binding id each front end spells its own way"
    assert error.actions == ("pick-model", "retry")
    assert error.details == {"models": ["sim-chat", "sim-vision"]}


async def test_a_prompt_longer_than_the_context_names_max_model_len() -> None:
    async with SimServer(SimConfig(max_model_len=64)) as server:
        error = (await failed_turn(server.base_url, "word " * 200)).error
    assert error.kind == "context_length" and error.status == 400 and not error.retryable
    assert "context window of 64 tokens" in error.message
    assert "{new-conversation}" in error.hint and "max_tokens" in error.hint
    assert error.details["max_model_len"] == 64
    assert "maximum context length is 64 tokens" in str(error.details["server_message"])


# --- the server fails or goes quiet ----------------------------------------------------------------


async def test_a_timeout_before_any_token_is_retryable() -> None:
    async with SimServer(SimConfig()) as server:
        failed = await failed_turn(server.base_url, "sim:stall=5 hi", timeout=0.3)
    assert failed.error.kind == "timeout" and failed.error.retryable
    assert failed.error.message == "The server sent nothing for 0.3 s."
    assert "Retry" in failed.error.hint and "request_timeout" in failed.error.hint
    assert failed.partial.content == ""


def test_a_connect_timeout_says_the_connection_was_not_accepted_not_that_nothing_came_for_600_s() -> None:
    import httpx2 as httpx  # the SDK's HTTP transport; it wraps its timeouts in APITimeoutError
    import openai

    request = httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    try:
        try:
            raise httpx.ConnectTimeout("timed out", request=request)
        except httpx.ConnectTimeout as cause:
            raise openai.APITimeoutError(request=request) from cause
    except openai.APITimeoutError as exc:
        error = explain(exc, base_url="http://127.0.0.1:9/v1", timeout=600, connect_timeout=5)
    assert error.kind == "timeout" and error.retryable
    assert error.message == "The server did not accept the connection within 5 s."
    assert "600" not in str(error)


async def test_a_timeout_after_part_of_the_reply_keeps_that_part() -> None:
    async with stalling_after({"role": "assistant", "content": ""}, {"content": "Hello"},
                              {"content": " there"}) as url:
        failed = await failed_turn(url, timeout=0.5)
    assert failed.error.kind == "timeout" and failed.error.retryable
    assert failed.partial.content == "Hello there"
    assert failed.partial.error == failed.error.message
    assert failed.partial.failure is not None and failed.partial.failure.hint == failed.error.hint


@pytest.mark.parametrize(
    ("capture", "status", "said"),
    [
        (vllm_error(500, "Internal server error", "InternalServerError"), 500, "Internal server error"),
        (Capture(502, {"content-type": "text/html"}, b"<html>Bad Gateway</html>"), 502, "Bad Gateway"),
    ],
)
async def test_a_server_error_status_is_retryable_and_quotes_the_server(capture: Capture, status: int,
                                                                       said: str) -> None:
    async with replaying(capture) as url:
        error = (await failed_turn(url)).error
    assert error.kind == "server" and error.status == status and error.retryable
    assert f"The server failed ({status})" in error.message and said in error.message
    assert "server log" in error.hint


async def test_a_busy_server_asks_to_wait_and_retry() -> None:
    async with SimServer(SimConfig()) as server:
        error = (await failed_turn(server.base_url, "sim:busy hi")).error
        assert server.stats.requests == 1, "the SDK did not retry behind the user's back"
    assert error.kind == "busy" and error.status == 503 and error.retryable
    assert "busy (503)" in error.message and "currently busy" in error.message
    assert "Wait a moment and retry" in error.hint


async def test_an_error_event_before_any_token_is_the_servers_rejection_of_the_request() -> None:
    async with SimServer(SimConfig()) as server:
        failed = await failed_turn(server.base_url, "sim:error-first hi")
    error = failed.error
    assert error.kind == "bad_request" and error.status == 400 and not error.retryable
    assert "Simulated engine-side rejection" in error.message
    assert error.details["server_message"] == "Simulated engine-side rejection (sim:error-first)."
    assert failed.partial.content == ""


async def test_an_error_event_mid_stream_keeps_the_partial_reply_and_can_be_retried() -> None:
    async with SimServer(SimConfig()) as server:
        failed = await failed_turn(server.base_url, "sim:error-mid=5 long 100")
    error = failed.error
    assert error.kind == "stream_error" and error.status == 500 and error.retryable
    assert "in the middle of the reply: Internal server error" in error.message
    assert "partial reply is kept" in error.hint
    assert failed.partial.content.startswith("# A long")


async def test_a_connection_cut_mid_stream_keeps_the_partial_reply_and_can_be_retried() -> None:
    async with SimServer(SimConfig()) as server:
        failed = await failed_turn(server.base_url, "sim:drop=5 long 100")
    assert failed.error.kind == "truncated" and failed.error.retryable
    assert "broke in the middle of the reply" in failed.error.message
    assert "partial reply is kept" in failed.error.hint
    assert failed.partial.content.startswith("# A long")


async def test_a_connection_cut_before_the_first_token_is_not_called_unreachable() -> None:
    # The server answered 200 and opened the stream: it is running, the reply was cut.
    async with SimServer(SimConfig()) as server:
        failed = await failed_turn(server.base_url, "sim:drop=0 long 100")
    assert failed.error.kind == "truncated" and failed.error.retryable
    assert "Can't reach" not in failed.error.message


async def test_a_stream_that_ends_without_a_finish_reason_is_truncated() -> None:
    capture = sse({"role": "assistant", "content": ""}, {"content": "Half an"}, {"content": " answer"})
    async with replaying(capture) as url:
        failed = await failed_turn(url)
    assert failed.error.kind == "truncated" and failed.error.retryable
    assert "without a finish signal" in failed.error.message
    assert failed.partial.content == "Half an answer" and failed.partial.finish_reason is None


# --- what the request carried ----------------------------------------------------------------------


async def test_media_sent_to_a_text_only_model_is_explained() -> None:
    async with SimServer(SimConfig()) as server:
        error = (await failed_turn(server.base_url, "look", attachments=[png_attachment()])).error
    assert error.kind == "not_multimodal" and error.status == 400 and not error.retryable
    assert error.message.startswith("sim-chat can't see images")
    assert "without the attachments" in error.hint and "vision model" in error.hint
    assert error.details["server_message"] == "sim-chat is not a multimodal model"


async def test_the_simulated_servers_media_limit_gives_the_limit_and_the_modality() -> None:
    async with SimServer(SimConfig(limit_images=1)) as server:
        error = (await failed_turn(server.base_url, "two cats", model="sim-vision",
                                   attachments=[png_attachment("a.png"), png_attachment("b.png")])).error
    assert error.kind == "too_many_media" and error.status == 400 and not error.retryable
    assert error.details["limit"] == 1 and error.details["modality"] == "image"
    assert "at most 1 image(s)" in error.message and "--limit-mm-per-prompt" in error.hint


@pytest.mark.parametrize(
    ("server_says", "modality", "limit"),
    [
        (("At most 4 image(s) may be provided in one prompt. Set `--limit-mm-per-prompt` to increase "
          "this limit. (parameter=image)"), "image", 4),
        ("At most 1 video(s) may be provided in one request.", "video", 1),
        (("You set image=2 (or defaulted to 1) in `--limit-mm-per-prompt`, but passed 3 image items "
          "in the same prompt."), "image", 2),
        (("You set or defaulted to '{\"audio\": 1}' in `--limit-mm-per-prompt`, but passed 2 audio "
          "items in the same prompt."), "audio", 1),
    ],
)
async def test_every_vllm_wording_of_the_media_limit_gives_the_limit_and_the_modality(
    server_says: str, modality: str, limit: int
) -> None:
    async with replaying(vllm_error(400, server_says)) as url:
        error = (await failed_turn(url, model="tiny-vl")).error
    assert error.kind == "too_many_media" and error.status == 400 and not error.retryable
    assert error.details["limit"] == limit and error.details["modality"] == modality
    assert f"at most {limit} {modality}(s) per request" in error.message
    assert "--limit-mm-per-prompt" in error.hint
    assert error.details["server_message"] == server_says


async def test_a_media_limit_of_zero_says_the_server_takes_none() -> None:
    async with replaying(vllm_error(400, "At most 0 audio(s) may be provided in one prompt.")) as url:
        error = (await failed_turn(url)).error
    assert error.kind == "too_many_media"
    assert error.details["limit"] == 0 and error.details["modality"] == "audio"
    assert "takes no audio at all" in error.message and "without them" in error.hint


@pytest.mark.parametrize("choice", ["auto", "required"])
async def test_tools_on_a_server_without_auto_tool_choice_say_how_to_start_vllm(choice: str) -> None:
    async with SimServer(SimConfig(auto_tool_choice=False)) as server:
        error = (await failed_turn(server.base_url, "what is 2+2", tools=True, tool_choice=choice)).error
    assert error.kind == "tools_unsupported" and error.status == 400 and not error.retryable
    assert "without tool calling" in error.message
    assert "--enable-auto-tool-choice --tool-call-parser" in error.hint and "without tools" in error.hint
    assert "requires" in str(error.details["server_message"])


async def test_any_other_rejection_quotes_the_server_and_keeps_the_conversation() -> None:
    said = "temperature must be in [0, 2], got 5.0. (parameter=temperature, value=5.0)"
    async with replaying(vllm_error(400, said)) as url:
        error = (await failed_turn(url)).error
    assert error.kind == "bad_request" and error.status == 400 and not error.retryable
    assert error.message == f"The server rejected the request (400): {said}"
    assert "conversation is kept" in error.hint
