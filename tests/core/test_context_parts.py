"""The plain parts of context handling: how a compacted conversation is sent, what a
compaction picks and how it shortens a transcript, what a /tokenize body carries, and the
words the check before sending uses."""

from __future__ import annotations

import json

from vllm_chat.core import format as fmt
from vllm_chat.core.context import compaction
from vllm_chat.core.context.fit import SendCheck
from vllm_chat.core.context.request import Prefix, measure, tokenize_body
from vllm_chat.core.conversation import Conversation, Message


def summary(text: str = "They discussed caching.") -> Message:
    return Message(role="user", content=text, compaction_id="c1")


def test_a_summary_and_the_prompt_after_it_are_sent_as_one_user_message() -> None:
    conv = Conversation(system_prompt="sys", messages=[summary(), Message(role="user", content="next?")])
    sent = conv.to_openai()
    assert sent[0] == {"role": "system", "content": "sys"}
    assert len(sent) == 2 and sent[1]["role"] == "user"
    assert sent[1]["content"].startswith("Summary of the earlier conversation")
    assert sent[1]["content"].endswith("They discussed caching.\n\nnext?")


def test_a_summary_joins_a_prompt_with_media_as_its_first_text_part() -> None:
    from vllm_chat.core.conversation import Attachment

    photo = Attachment(kind="image", name="cat.png", url="https://example.com/cat.png")
    conv = Conversation(messages=[summary("S"), Message(role="user", content="what is it?", attachments=[photo])])
    sent = conv.to_openai(lambda a: {"type": "image_url", "image_url": {"url": a.url}})
    assert len(sent) == 1
    assert sent[0]["content"][0]["text"].endswith("S\n\n")
    assert [p["type"] for p in sent[0]["content"]] == ["text", "text", "image_url"]


def test_a_summary_before_a_reply_stays_a_user_message_and_a_mark_is_not_sent() -> None:
    conv = Conversation(messages=[Message(role="user", content="", compaction_id="c0"), summary(),
                                  Message(role="assistant", content="ok")])
    assert [m["role"] for m in conv.to_openai()] == ["user", "assistant"]


def test_compaction_keeps_the_last_turns_and_needs_something_older() -> None:
    msgs = [Message(role=r, content=f"{r} {i}") for i in range(4) for r in ("user", "assistant")]
    conv = Conversation(messages=msgs)
    found = compaction.plan(conv, 2)
    assert found is not None and found.cut == 4 and found.older(conv) == msgs[:4]
    assert compaction.plan(conv, 4) is None
    assert compaction.plan(conv, 0).cut == 8, "keeping nothing summarises everything"
    only_summary = Conversation(messages=[summary(), *msgs[-2:]])
    assert compaction.plan(only_summary, 1) is None, "an earlier summary alone is nothing new to summarise"


def test_a_transcript_shortens_the_longest_messages_first() -> None:
    msgs = [Message(role="user", content="short question"), Message(role="assistant", content="x" * 5000),
            Message(role="tool", name="grep", tool_call_id="t", content="y" * 5000)]
    text = compaction.transcript(msgs, 3000)
    assert "User: short question" in text, "short messages stay whole"
    assert "characters left out" in text and len(text) < 3500
    assert "Tool result (grep):" in text


def test_the_summary_request_asks_without_tools_or_thinking() -> None:
    conv = Conversation(model="m", system_prompt="be nice")
    side = compaction.summary_conversation(conv, "User: hi", 300)
    assert side.model == "m" and side.tools_enabled is False
    assert side.params.max_tokens == 300 and side.params.enable_thinking is False
    assert "<conversation>\nUser: hi\n</conversation>" in side.messages[0].content
    assert compaction.summary_tokens(2048, 1024) == 512, "at most a quarter of the window"


def test_a_tokenize_body_carries_what_changes_the_prompt_and_nothing_else() -> None:
    request = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "temperature": 0.2,
               "max_tokens": 9, "tools": [{"type": "function"}], "tool_choice": "auto",
               "stream_options": {"include_usage": True},
               "extra_body": {"chat_template_kwargs": {"enable_thinking": False}, "top_k": 5,
                              "continue_final_message": True, "add_generation_prompt": False}}
    assert tokenize_body(request) == {
        "model": "m", "messages": request["messages"], "tools": [{"type": "function"}],
        "chat_template_kwargs": {"enable_thinking": False}, "continue_final_message": True,
        "add_generation_prompt": False}


def test_a_request_size_leaves_media_urls_out() -> None:
    from vllm_chat.core.conversation import Attachment

    url = "data:image/png;base64," + "A" * 10_000
    request = {"model": "m", "messages": [{"role": "user", "content": [
        {"type": "text", "text": "hi"}, {"type": "image_url", "image_url": {"url": url}}]}]}
    measured = measure(request, [Attachment(kind="image", name="a.png", width=280, height=280)])
    assert measured.chars < 200 and len(measured.payload) > 10_000
    assert measured.media_tokens == 100


def test_a_draft_added_to_an_encoded_history_encodes_as_the_whole_request_does() -> None:
    history = [{"role": "system", "content": "s"}, {"role": "user", "content": "q é"},
               {"role": "assistant", "content": "a"}]
    draft = {"role": "user", "content": "next"}
    base = {"model": "m", "tools": [{"type": "function"}], "messages": history}
    fast = Prefix(tokenize_body(base)).measure(draft)
    whole = measure({**base, "messages": [*history, draft]})
    assert fast == whole
    assert json.loads(fast.payload) == tokenize_body({**base, "messages": [*history, draft]})
    assert measure({"model": "m", "messages": []}).empty


def test_the_explanation_says_how_far_over_the_window_it_is() -> None:
    over = SendCheck(prompt_tokens=2100, exact=True, max_model_len=2048, min_reply=256)
    assert not over.fits and over.over_by == 308
    assert over.explanation() == ("This would not fit: the prompt takes 2,100 of the model's 2,048-token context "
                                  "window (max_model_len), and the prompt alone is 52 tokens over the window.")
    tight = SendCheck(prompt_tokens=1900, exact=False, max_model_len=2048, min_reply=256)
    assert "about 148 tokens for the reply, which needs at least 256" in tight.explanation()
    assert SendCheck(prompt_tokens=10**6, exact=True, max_model_len=None, min_reply=256).fits, \
        "an unknown window can't be checked"


def test_the_reply_footer_says_when_the_window_limited_the_reply() -> None:
    cut = Message(role="assistant", content="x", finish_reason="length", reply_limit=148)
    assert fmt.finish_note(cut) == "cut off: the context window left room for only 148 tokens"
    fine = Message(role="assistant", content="x", finish_reason="stop", reply_limit=148)
    assert fmt.finish_note(fine) == "could only get 148 tokens (the context window was nearly full)"
    assert fmt.finish_note(Message(role="assistant", content="x", finish_reason="length")) == "cut off at max_tokens"
