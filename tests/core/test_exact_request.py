"""The exact request behind a reply: rebuilt from the conversation to what the server
received, copied as JSON, curl and Python that run as they are (the key read from the
environment, never written), honest when the conversation changed since; and the
prompt the chat template made of it."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import sys

import pytest
from aiohttp import ClientSession, web

from tests.conftest import TEST_API_KEY
from tests.support.proxy import FrontProxy
from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.events import TurnFinished
from vllm_chat.core.prompt_render import token_pieces
from vllm_chat.core.request_view import NoRequest, shown
from vllm_chat.core.session import ChatSession
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer


async def turn(session: ChatSession, prompt: str) -> Message:
    session.add_user_message(prompt)
    events = [event async for event in session.run()]
    assert isinstance(events[-1], TurnFinished), events[-1]
    return session.conversation.messages[-1]


def make_session(sim: SimServer, store: SessionStore | None = None, **settings: object) -> ChatSession:
    settings.setdefault("api_key", TEST_API_KEY)
    return ChatSession(load_settings({"base_url": sim.base_url, "system_prompt": "Be terse.",
                                      "sampling": {"temperature": 0.3, "top_k": 20, "logprobs": 2},
                                      **settings}), store=store)


async def test_the_rebuilt_request_is_the_body_the_server_received_with_the_key_redacted() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as sim:
        session = make_session(sim)
        await turn(session, "hello")
        reply = await turn(session, "what is 17*23")  # a tool round: two requests in one turn
        await session.aclose()
    received = list(sim.stats.recent_request_bodies)
    assert session.request_of(reply.id).body == received[-1]
    first_round = session.conversation.messages[-3]
    assert first_round.tool_calls and session.request_of(first_round.id).body == received[-2]
    request = session.request_of(reply.id)
    assert request.exact and request.note == ""
    text = shown(request)
    assert text.startswith(f"POST {sim.base_url}/chat/completions\n")
    assert "Authorization: Bearer [redacted]" in text and TEST_API_KEY not in text
    for form in ("json", "curl", "python"):
        assert TEST_API_KEY not in session.request_as(reply.id, form)


async def test_a_request_rebuilt_after_the_conversation_changed_says_it_is_not_the_exact_one() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as sim:
        session = make_session(sim, tools={"enabled": False})
        first = await turn(session, "hello")
        second = await turn(session, "markdown")
        await session.aclose()
    session.delete_message(first.id)
    request = session.request_of(second.id)
    assert not request.exact and "changed since this reply was sent" in request.note


def test_a_reply_saved_without_its_request_says_so() -> None:
    conv = Conversation(model="m")
    conv.add(Message(role="user", content="q"))
    reply = conv.add(Message(role="assistant", content="a"))
    session = ChatSession(load_settings({}), conversation=conv)
    with pytest.raises(NoRequest, match="saved without its request"):
        session.request_of(reply.id)


async def test_the_session_file_does_not_keep_every_request_s_whole_history() -> None:
    store = SessionStore()
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as sim:
        session = make_session(sim, store, tools={"enabled": False})
        sizes = []
        for _ in range(6):
            await turn(session, "echo " + "the same long prompt, " * 40)
            sizes.append(store.path_for(session.conversation.id).stat().st_size)
        await session.aclose()
    growth = [b - a for a, b in itertools.pairwise(sizes)]
    # Each turn adds about the same: a record of the whole history per reply would grow.
    assert max(growth) < 1.2 * min(growth)
    saved = json.loads(store.path_for(session.conversation.id).read_text())
    assert all("messages" not in m["request"]["kwargs"] for m in saved["messages"] if m.get("request"))


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
async def test_the_copied_curl_command_sends_the_same_request() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as sim:
        session = make_session(sim)
        reply = await turn(session, "héllo 'quoted' $HOME `x` \\ end")
        await session.aclose()
        command = session.request_as(reply.id, "curl")
        before = sim.stats.requests
        result = await _run(["bash", "-c", command + '\necho "status=$?"'], {"OPENAI_API_KEY": TEST_API_KEY})
        assert "status=0" in result.stdout and "data: [DONE]" in result.stdout, result.stderr
        assert sim.stats.requests == before + 1
        assert sim.stats.last_request_body == session.request_of(reply.id).body


async def test_the_copied_python_script_sends_the_same_request() -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as sim:
        session = make_session(sim)
        reply = await turn(session, "hello")
        await session.aclose()
        script = session.request_as(reply.id, "python")
        result = await _run([sys.executable, "-c", script], {"OPENAI_API_KEY": TEST_API_KEY})
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip()  # the reply, printed
        assert sim.stats.last_request_body == session.request_of(reply.id).body


async def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run a program in a thread: the simulated server answering it shares this event loop."""
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True, timeout=60,
                                   env={**os.environ, **env})


async def test_the_rendered_prompt_shows_the_template_with_its_special_tokens_and_each_token() -> None:
    async with SimServer(SimConfig()) as sim:
        session = make_session(sim, api_key="EMPTY", tools={"enabled": False})
        reply = await turn(session, "hello there")
        rendered = await session.render_prompt(reply.id)
        await session.aclose()
    assert "Be terse." in rendered.text and "hello there" in rendered.text
    assert rendered.source == "/tokenize" and "no render endpoint" in rendered.notes[0]
    assert "".join(rendered.pieces) == rendered.text
    assert len(rendered.pieces) == len(rendered.token_ids) == reply.usage.prompt_tokens
    specials = {rendered.pieces[i] for i in rendered.special}
    assert "<|im_start|>" in specials and "<|im_end|>" in specials


async def test_a_server_with_the_render_endpoint_renders_with_it() -> None:
    """Like vLLM with --enable-scale-out: the render endpoint answers chat's own token ids
    and the sampling parameters it would use (here a proxy answers it from /tokenize)."""
    async with SimServer(SimConfig()) as sim:
        async def render(request: web.Request) -> web.Response:
            body = await request.json()
            async with ClientSession() as http, http.post(sim.root_url + "/tokenize", json={
                    "model": body["model"], "messages": body["messages"]}) as answer:
                tokens = (await answer.json())["tokens"]
            return web.json_response({"request_id": "chatcmpl-x", "token_ids": tokens,
                                      "sampling_params": {"temperature": body.get("temperature"), "max_tokens": 99}})

        async with FrontProxy(sim.root_url, {"/v1/chat/completions/render": render}) as proxy:
            session = make_session(sim, api_key="EMPTY", base_url=proxy.base_url, tools={"enabled": False})
            reply = await turn(session, "hello there")
            rendered = await session.render_prompt(reply.id)
            await session.aclose()
    assert rendered.source == "/v1/chat/completions/render" and rendered.notes == ()
    assert rendered.sampling_params == {"temperature": 0.3, "max_tokens": 99}
    assert "".join(rendered.pieces) == rendered.text


def test_byte_level_and_sentencepiece_token_names_are_read_back_into_text() -> None:
    names = ["<|im_start|>", "user", "Ċ", "h", "Ã", "©", "l", "lo", "Ġ", "æ", "Ĺ", "¥"]
    assert token_pieces(names, "<|im_start|>user\nhéllo 日") == (
        "<|im_start|>", "user", "\n", "h", "", "é", "l", "lo", " ", "", "", "日")
    assert token_pieces(["<s>", "▁Hello", "<0x0A>", "▁world"], "<s> Hello\n world") == (
        "<s>", " Hello", "\n", " world")
    assert token_pieces(["a", "b"], "something else") == ()
