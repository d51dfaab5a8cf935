"""The client's speed-ups keep their promises: connecting, counting and streaming don't
wait for the SDK's import (whose exceptions still say what went wrong), and streamed
chunks are read from their JSON (not built into the SDK's models) with the same
attribute names, through the stream guard as before.

All talk HTTP to the simulated vLLM; the import checks run in processes of their own,
where nothing imported `openai` before.
"""

from __future__ import annotations

import subprocess
import sys

from vllm_chat.core.chunk_view import ChunkView
from vllm_chat.core.client import ChatClient
from vllm_chat.core.stream_guard import FaultLog
from vllm_chat.simserver import SimConfig, SimServer

LISTING = """
import asyncio, sys
from vllm_chat.core.client import ChatClient
from vllm_chat.simserver import SimConfig, SimServer

async def main():
    async with SimServer(SimConfig(max_model_len=4096, api_key="k")) as server:
        client = ChatClient(server.base_url, "k")
        models = await client.list_models()
        print([(m.id, m.max_model_len) for m in models], "openai" in sys.modules)
        sdk = await client.sdk()
        print(sdk._client is await client.http(), "openai" in sys.modules)
        await client.aclose()

asyncio.run(main())
"""


def test_the_model_list_arrives_without_importing_the_sdk_which_the_first_request_then_shares() -> None:
    """The SDK's import takes ~0.4 s (seconds on a busy machine); the model list and the
    header it fills must not wait for it."""
    out = subprocess.run([sys.executable, "-c", LISTING], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    listed, shared = out.stdout.splitlines()
    assert listed == "[('sim-chat', 4096), ('sim-vision', 4096)] False"
    assert shared == "True True", "the SDK, once built, sends through the same connection pool"


STREAMING = """
import asyncio, json, sys
from vllm_chat.core.client import ChatClient
from vllm_chat.core.tokenize import tokenize
from vllm_chat.simserver import SimConfig, SimServer

async def main():
    async with SimServer(SimConfig(api_key="k")) as server:
        client = ChatClient(server.base_url, "k")
        messages = [{"role": "user", "content": "echo plain words"}]
        count = await tokenize(client, json.dumps({"model": "sim-chat", "messages": messages}).encode(), timeout=10)
        text = ""
        async for chunk in client.stream_chat({"model": "sim-chat", "messages": messages}):
            text += "".join(c.delta.content or "" for c in chunk.choices)
        print(count.count > 0, repr(text), "openai" in sys.modules)
        refused = ChatClient(server.base_url, "wrong")
        try:
            async for _ in refused.stream_chat({"model": "sim-chat", "messages": messages}):
                pass
        except Exception as exc:
            print(type(exc).__name__, refused.explain(exc).kind)
        await client.aclose()
        await refused.aclose()

asyncio.run(main())
"""


def test_a_streamed_reply_and_a_count_need_no_sdk_whose_exceptions_still_say_what_went_wrong() -> None:
    """`import openai` takes over a second of CPU; `vllm-chat -p` and a first Enter need
    nothing from it when all goes well, and a refusal is still the SDK's exception."""
    out = subprocess.run([sys.executable, "-c", STREAMING], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    answered, refused = out.stdout.splitlines()
    assert answered == "True 'plain words' False"
    assert refused == "AuthenticationError auth"


async def test_streamed_chunks_are_read_from_their_json_not_built_into_sdk_models() -> None:
    """Building the SDK's models cost more per token than everything else in a stream; the
    chunks come as the JSON the server sent, read with the same attribute names, and the
    stream guard still saw every event (a clean stream: no faults)."""
    faults = FaultLog()
    async with SimServer(SimConfig()) as server:
        client = ChatClient(server.base_url)
        try:
            request = {"model": "sim-chat", "messages": [{"role": "user", "content": "echo plain words"}],
                       "stream_options": {"include_usage": True}}
            chunks = [chunk async for chunk in client.stream_chat(request, faults)]
        finally:
            await client.aclose()
    assert chunks and all(type(chunk) is ChunkView for chunk in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "plain words" and not faults
    assert chunks[0].choices[0].delta.reasoning is None, "a field the server left out reads as None"
    usage = chunks[-1].usage
    assert usage.completion_tokens == usage["completion_tokens"] > 0
    assert isinstance(chunks[-1].get("usage"), dict), "the chunk is still a JSON object, for code that reads dicts"
