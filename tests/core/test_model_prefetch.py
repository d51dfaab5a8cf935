"""The model list asked for at launch (`model_prefetch`) answers the session's first
connect, so the header needn't wait for the app to be built before asking; anything but
a plain 200 is asked again the normal way and explained in the usual words.

Against the simulated vLLM over HTTP; "the server is gone" proves an answer came from
the prefetch, since nothing else could have given it.
"""

from __future__ import annotations

import asyncio

import pytest

from tests.conftest import TEST_API_KEY
from vllm_chat.core.client import ChatClient
from vllm_chat.core.config import load_settings
from vllm_chat.core.errors import ChatErrorException
from vllm_chat.core.model_prefetch import prefetch_for, prefetch_models
from vllm_chat.core.session import ChatSession
from vllm_chat.core.transport import Transport
from vllm_chat.simserver import SimConfig, SimServer


async def test_the_launchs_answer_serves_the_first_connect_and_only_the_first() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, max_model_len=4096)) as server:
        settings = load_settings({"base_url": server.base_url, "api_key": TEST_API_KEY})
        prefetched = prefetch_for(settings)
        assert prefetched is not None
        session = ChatSession(settings, models_prefetch=prefetched)
        await asyncio.wrap_future(prefetched)
    # The server is gone: only the prefetched answer can fill the model list.
    models = await session.connect()
    assert [(m.id, m.max_model_len) for m in models] == [("sim-chat", 4096), ("sim-vision", 4096)]
    assert session.connection == "connected" and session.conversation.model == "sim-chat"
    with pytest.raises(ChatErrorException) as refused:
        await session.connect()
    assert refused.value.error.kind == "connection", "later connects ask the server itself"
    await session.aclose()


async def test_a_refused_prefetch_is_asked_again_and_explained_as_usual() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server:
        future = prefetch_models(server.base_url, "wrong-key", Transport(), timeout=5)
        assert future is not None and await asyncio.wrap_future(future) is None, "a 401 is no answer"
        client = ChatClient(server.base_url, "wrong-key")
        client.adopt_prefetch(future)
        with pytest.raises(ChatErrorException) as refused:
            await client.list_models()
        await client.aclose()
    assert refused.value.error.kind == "auth"


async def test_a_prefetch_from_a_server_that_is_down_leaves_the_usual_connection_error() -> None:
    async with SimServer(SimConfig()) as server:
        base_url = server.base_url
    future = prefetch_models(base_url, "", Transport(), timeout=5)
    assert future is not None and await asyncio.wrap_future(future) is None
    client = ChatClient(base_url)
    client.adopt_prefetch(future)
    with pytest.raises(ChatErrorException) as refused:
        await client.list_models()
    await client.aclose()
    assert refused.value.error.kind == "connection"


async def test_an_answer_for_another_url_is_not_taken() -> None:
    async with SimServer(SimConfig()) as server:
        future = prefetch_models(server.base_url, "", Transport(), timeout=5)
        assert future is not None
        await asyncio.wrap_future(future)
    client = ChatClient(server.base_url.replace("/v1", "/v2"))
    client.adopt_prefetch(future)
    with pytest.raises(ChatErrorException):
        await client.list_models()
    await client.aclose()


@pytest.mark.parametrize("base_url", [
    "https://gpu-box:8000/v1",          # TLS: the app's HTTP client decides what it trusts
    "http://user:secret@gpu-box/v1",    # credentials in the URL
    "http://[::1/v1",                   # not a URL: the normal path says why
    "http://gpu-box:99999/v1",          # no such port
])
def test_urls_a_prefetch_does_not_take(base_url: str) -> None:
    assert prefetch_models(base_url, "", Transport(), timeout=5) is None


def test_a_url_that_goes_through_a_proxy_is_not_prefetched(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    assert prefetch_models("http://127.0.0.1:9/v1", "", Transport(), timeout=5) is None
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    assert prefetch_models("http://127.0.0.1:9/v1", "", Transport(), timeout=5) is not None
