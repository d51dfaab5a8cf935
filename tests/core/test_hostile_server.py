"""A misbehaving server is blamed for what it sends, and never costs the user the reply.

The engine and client talk HTTP, through the openai SDK, to `tests/support/hostile.py`:
invalid UTF-8, `data: {garbage`, chunks of the wrong shape, a 2 MB HTML error page, a
model list that is a web page, a key inside the base URL, a session whose attachment
reference was edited. Each says what arrived, what was expected and whose fault it is;
the partial reply is kept, and the rest of the stream with it.
"""

from __future__ import annotations

import pytest

from tests.support.hostile import HostileServer
from vllm_chat.core.client import ChatClient
from vllm_chat.core.conversation import Attachment, Conversation, Message
from vllm_chat.core.engine import Engine, TurnOptions
from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.events import Event, TurnFailed, TurnFinished

SECRET = "hunter2-key-in-url"


async def turn(base_url: str, prompt: str, conv: Conversation | None = None) -> tuple[Event, Message]:
    client = ChatClient(base_url)
    conv = conv or Conversation(model="hostile")
    conv.add(Message(role="user", content=prompt))
    try:
        events = [e async for e in Engine(client, max_rounds=1).run(conv, TurnOptions(tools_enabled=False))]
    finally:
        await client.aclose()
    return events[-1], conv.messages[-1]


@pytest.fixture
async def hostile():
    async with HostileServer() as server:
        yield server


@pytest.mark.parametrize(("fault", "said"), [
    ("garbage", "a chunk that is not JSON (e.g. `{garbage`)"),
    ("wrong-shape", "'choices' is a string, not a list"),
    ("bad-utf8", "bytes that are not UTF-8"),
])
async def test_a_malformed_chunk_is_the_servers_fault_and_the_rest_of_the_reply_is_kept(
        hostile, fault: str, said: str) -> None:
    end, reply = await turn(hostile.base_url, fault)
    assert isinstance(end, TurnFinished), "one bad chunk does not end the reply"
    assert reply.content.startswith("before ") and reply.content.endswith(" after")
    assert reply.status == "complete"
    assert said in reply.error and "not of vllm-chat" in reply.error
    assert "bug in vllm-chat" not in reply.error


async def test_chunks_with_fields_left_out_are_read_as_nothing_to_add(hostile) -> None:
    end, reply = await turn(hostile.base_url, "sparse")
    assert isinstance(end, TurnFinished) and reply.content == "before  after" and reply.error is None


async def test_a_two_megabyte_error_page_is_described_in_a_line_and_never_stored(hostile) -> None:
    end, reply = await turn(hostile.base_url, "error-page")
    assert isinstance(end, TurnFailed)
    error = end.error
    assert error.status == 502 and error.kind == "server"
    assert 'HTML page of 2.0 MB ("502 Bad Gateway")' in error.message
    assert len(error.message) < 300 and len(reply.error or "") < 300, "the page is not kept whole"


async def test_a_model_list_that_is_a_web_page_says_what_arrived_and_what_was_expected() -> None:
    async with HostileServer(models_body=b"<html><head><title>Sign in</title></head>" + b"x" * 5000) as server:
        client = ChatClient(server.base_url)
        try:
            with pytest.raises(ChatErrorException) as caught:
                await client.list_models()
        finally:
            await client.aclose()
    error = caught.value.error
    assert error.kind == "bad_response"
    assert 'HTML page of 5 KB ("Sign in")' in error.message and '"object": "list"' in error.message
    assert "not a vllm-chat bug" in error.hint


async def test_a_key_inside_the_base_url_is_never_in_an_error() -> None:
    client = ChatClient(f"http://user:{SECRET}@127.0.0.1:9/v1")
    conv = Conversation(model="m")
    conv.add(Message(role="user", content="hi"))
    try:
        events = [e async for e in Engine(client).run(conv, TurnOptions(tools_enabled=False))]
    finally:
        await client.aclose()
    error = events[-1].error
    assert "http://user:***@127.0.0.1:9/v1" in error.message
    assert SECRET not in str(error) and SECRET not in (conv.messages[-1].error or "")


def test_an_error_built_anywhere_hides_credentials_in_urls() -> None:
    error = ChatError("internal", f"failed at https://{SECRET}@host/x", f"try http://a:{SECRET}@h/",
                      details={"url": f"http://u:{SECRET}@h"})
    assert SECRET not in error.message + error.hint + str(error.details)
    assert "https://***@host/x" in error.message and "http://a:***@h/" in error.hint


def test_a_session_saved_by_an_older_version_with_a_key_in_an_error_exports_without_it() -> None:
    from vllm_chat.core.conversation import Failure
    from vllm_chat.core.export import to_json, to_markdown

    url = f"http://u:{SECRET}@gpu:8000/v1"
    conv = Conversation(model="m", base_url=url)
    conv.add(Message(role="user", content="hi"))
    reply = conv.add(Message(role="assistant", status="failed", error=f"Can't reach the server at {url}."))
    # Built directly, as loading an old file does: no ChatError hid the key on the way.
    reply.failure = Failure(kind="connection", message=f"Can't reach the server at {url}.",
                            hint=f"Is vllm serve running at {url}?", details={"url": url})
    for text in (to_json(conv), to_markdown(conv)):
        assert SECRET not in text and "http://u:***@gpu:8000/v1" in text
    assert reply.failed_with() is not None and SECRET not in str(reply.failed_with()), "shown again: hidden"


async def test_an_attachment_reference_edited_in_the_session_file_is_the_files_fault(hostile) -> None:
    conv = Conversation(model="hostile")
    conv.add(Message(role="user", content="look", attachments=[
        Attachment(kind="image", name="cat.png", mime="image/png", ref="../../../etc/passwd")]))
    conv.add(Message(role="assistant", content="a cat"))
    end, _ = await turn(hostile.base_url, "again", conv)
    assert isinstance(end, TurnFailed) and end.error.kind == "attachment"
    assert "'../../../etc/passwd' is not a media-folder file name" in end.error.message
    assert "not a bug in vllm-chat" in end.error.hint
    assert hostile.requests == [], "nothing was sent"
