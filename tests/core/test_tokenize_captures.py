"""What a real vLLM answered to `/tokenize` (replayed byte for byte) becomes the count, or
the kind of problem that says whether asking again can help."""

from __future__ import annotations

import pytest
from aiohttp import web

from tests.support.replay import CAPTURES, load_capture
from vllm_chat.core.client import ChatClient
from vllm_chat.core.tokenize import CountProblem, tokenize

pytestmark = pytest.mark.skipif(not CAPTURES.exists(), reason=f"captures not found at {CAPTURES}")


async def answer_with(name: str) -> tuple[int, int | None]:
    capture = load_capture(name)

    async def handler(request: web.Request) -> web.Response:
        await request.read()
        return web.Response(status=capture.status, body=capture.body,
                            headers={"content-type": capture.headers.get("content-type", "application/json")})

    app = web.Application()
    app.router.add_post("/tokenize", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    client = ChatClient(f"http://127.0.0.1:{port}/v1")
    try:
        count = await tokenize(client, b'{"model":"tiny-llama","messages":[]}', timeout=5)
        return count.count, count.max_model_len
    finally:
        await client.aclose()
        await runner.cleanup()


@pytest.mark.parametrize(("name", "count"), [("main/30_tokenize_messages", 32),
                                             ("main/31_tokenize_messages_tools", 327),
                                             ("round2/09_tokenize_messages_tools_thinking", 199)])
async def test_a_count_is_read_from_what_vllm_answers(name: str, count: int) -> None:
    assert await answer_with(name) == (count, 2048)


async def test_an_unknown_model_is_a_failure_to_fix_not_a_missing_route() -> None:
    with pytest.raises(CountProblem) as caught:
        await answer_with("main/35_tokenize_unknown_model")
    assert caught.value.kind == "failed" and "does not exist" in caught.value.message


async def test_a_model_without_a_chat_template_is_a_failure_that_says_why() -> None:
    with pytest.raises(CountProblem) as caught:
        await answer_with("round2/14_base_model_tokenize_messages")
    assert caught.value.kind == "failed" and "chat template" in caught.value.message


async def test_a_refused_route_is_a_lasting_problem() -> None:
    with pytest.raises(CountProblem) as caught:
        await answer_with("main/34_chat_render")  # vLLM's 403 for a route it keeps switched off
    assert caught.value.kind == "forbidden" and caught.value.lasting
