"""What the simulated model says: deterministic, useful for demos, and driven by magic phrases."""

from __future__ import annotations

import base64
import json

import pytest

from vllm_chat.simserver import FAULT_KINDS, MAGIC_PHRASES

from .helpers import chat, user


def tool(name: str, description: str, properties: dict, required: list[str] | None = None) -> dict:
    schema = {"type": "object", "properties": properties,
              "required": required if required is not None else list(properties)}
    return {"type": "function", "function": {"name": name, "description": description, "parameters": schema}}


# The client's built-in tools, as a client would declare them.
DATETIME = tool("datetime", "Current local date and time", {"timezone": {"type": "string"}}, [])
CALCULATOR = tool("calculator", "Evaluate an arithmetic expression", {"expression": {"type": "string"}})
READ_FILE = tool("read_file", "Read a text file", {"path": {"type": "string"}})
LIST_DIRECTORY = tool("list_directory", "List the entries of a directory", {"path": {"type": "string"}})
WEATHER = tool("get_weather", "Get the current weather for a city", {"city": {"type": "string"}})
BUILTINS = [DATETIME, CALCULATOR, READ_FILE, LIST_DIRECTORY]


async def say(http, server, text: str, **extra) -> dict:
    reply = await chat(http, server, {"messages": user(text), **extra})
    return reply.json["choices"][0]


async def calls(http, server, text: str, tools: list[dict], **extra) -> list[tuple[str, dict]]:
    choice = await say(http, server, text, tools=tools, **extra)
    return [(c["function"]["name"], json.loads(c["function"]["arguments"]))
            for c in choice["message"].get("tool_calls", [])]


async def test_hello_greets_and_shows_what_the_demo_can_do(sim, http):
    content = (await say(http, sim, "hello"))["message"]["content"]
    assert content.startswith("## Hello!") and "**sim-chat**" in content
    for phrase in ("`help`", "`markdown`", "`what is 17*23`", "`long 2000`", "`sim:error-mid`"):
        assert phrase in content


async def test_help_lists_every_magic_phrase_and_fault(sim, http):
    content = (await say(http, sim, "help"))["message"]["content"]
    for phrase, _ in MAGIC_PHRASES:
        assert f"`{phrase}`" in content
    for kind in FAULT_KINDS:
        assert f"`sim:{kind}`" in content


async def test_markdown_showcase_uses_every_construct(sim, http):
    content = (await say(http, sim, "show me some markdown"))["message"]["content"]
    for marker in ("# Markdown showcase", "**bold**", "- Streaming", "1. Send", "```python", "| Field |", "> "):
        assert marker in content


async def test_echo_answers_verbatim(sim, http):
    text = "a *b* `c`\n\n| x |\n|---|\n| 1 |"
    assert (await say(http, sim, f"echo {text}"))["message"]["content"] == text


@pytest.mark.parametrize("prompt", ["write 50 tokens", "long 50 please"])
async def test_long_replies_on_request(sim, http, prompt):
    choice = await say(http, sim, prompt)
    assert choice["finish_reason"] == "stop"
    assert (await chat(http, sim, {"messages": user(prompt)})).json["usage"]["completion_tokens"] == 51


async def test_arithmetic_without_tools_is_answered_directly(sim, http):
    assert (await say(http, sim, "what is 17*23"))["message"]["content"] == "17*23 = **391**"


async def test_tool_shaped_questions_without_tools_explain_what_to_do(sim, http):
    content = (await say(http, sim, "What is the weather in Paris?"))["message"]["content"]
    assert "no tools came with this request" in content


async def test_anything_else_gets_a_friendly_fallback_quoting_the_prompt(sim, http):
    content = (await say(http, sim, "Tell me about octopuses"))["message"]["content"]
    assert "“Tell me about octopuses”" in content and "`help`" in content


async def test_magic_fault_phrases_do_not_change_the_reply(sim, http):
    plain = (await say(http, sim, "echo same"))["message"]["content"]
    assert (await say(http, sim, "echo same sim:stall=0"))["message"]["content"] == plain


# --- tool calls ---------------------------------------------------------------------------------


async def test_questions_pick_the_matching_builtin_tool(sim, http):
    assert await calls(http, sim, "What time is it?", BUILTINS) == [("datetime", {})]
    assert await calls(http, sim, "what is 17*23", BUILTINS) == [("calculator", {"expression": "17*23"})]
    assert await calls(http, sim, "read the file src/app.py", BUILTINS) == [("read_file", {"path": "src/app.py"})]
    assert await calls(http, sim, "list the directory ./docs", BUILTINS) == [("list_directory", {"path": "./docs"})]
    assert await calls(http, sim, "weather in Paris", [*BUILTINS, WEATHER]) == [("get_weather", {"city": "Paris"})]


async def test_two_questions_make_two_calls(sim, http):
    got = await calls(http, sim, "What is 6*7 and what is the date today?", BUILTINS)
    assert got == [("calculator", {"expression": "6*7"}), ("datetime", {})]


async def test_unrelated_prompt_makes_no_call_with_auto_and_the_first_tool_with_required(sim, http):
    assert await calls(http, sim, "hello", BUILTINS) == []
    assert await calls(http, sim, "hello", BUILTINS, tool_choice="required") == [("datetime", {})]


async def test_arguments_follow_the_schema(sim, http):
    rich = tool("book", "Book a table", {
        "restaurant": {"type": "string"},
        "people": {"type": "integer"},
        "vegan": {"type": "boolean"},
        "time": {"type": "string", "enum": ["lunch", "dinner"]},
        "tags": {"type": "array", "items": {"type": "string"}},
        "contact": {"type": "object", "properties": {"phone": {"type": "string"}}, "required": ["phone"]},
        "note": {"type": "string"},
    }, ["restaurant", "people", "vegan", "time", "tags", "contact"])
    ((name, args),) = await calls(http, sim, "book a table for dinner", [rich],
                                  tool_choice={"type": "function", "function": {"name": "book"}})
    assert name == "book"
    assert set(args) == {"restaurant", "people", "vegan", "time", "tags", "contact"}
    assert isinstance(args["people"], int) and args["vegan"] is True and args["time"] == "dinner"
    assert isinstance(args["tags"], list) and set(args["contact"]) == {"phone"}


async def test_after_tool_results_the_answer_quotes_them(sim, http):
    messages = user("What is 17*23 and what time is it?") + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "calculator", "arguments": '{"expression": "17*23"}'}},
            {"id": "call_2", "type": "function", "function": {"name": "datetime", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "391"},
        {"role": "tool", "tool_call_id": "call_2", "content": "2026-11-26 10:00"},
    ]
    reply = await chat(http, sim, {"messages": messages, "tools": BUILTINS})
    content = reply.json["choices"][0]["message"]["content"]
    assert "**calculator**" in content and "`391`" in content
    assert "**datetime**" in content and "`2026-11-26 10:00`" in content
    assert "tool_calls" not in reply.json["choices"][0]["message"]


# --- attachments ----------------------------------------------------------------------------------


def data_url(mime: str, payload: bytes) -> str:
    return f"data:{mime};base64,{base64.b64encode(payload).decode()}"


async def test_attached_images_are_counted_typed_and_sized(sim, http):
    parts = [
        {"type": "text", "text": "What are these?"},
        {"type": "image_url", "image_url": {"url": data_url("image/png", b"x" * 1234)}},
        {"type": "image_url", "image_url": {"url": data_url("image/jpeg", b"y" * 5678)}},
    ]
    reply = await chat(http, sim, {"model": "sim-vision", "messages": [{"role": "user", "content": parts}]})
    content = reply.json["choices"][0]["message"]["content"]
    assert content.startswith("I received 2 images: image/png, 1234 bytes; image/jpeg, 5678 bytes.")
    assert "What are these?" in content


async def test_audio_and_video_are_described_too(sim, http):
    parts = [
        {"type": "input_audio", "input_audio": {"data": base64.b64encode(b"a" * 100).decode(), "format": "mp3"}},
        {"type": "video_url", "video_url": {"url": "https://example.com/clip.mp4"}},
    ]
    reply = await chat(http, sim, {"model": "sim-vision", "messages": [{"role": "user", "content": parts}]})
    content = reply.json["choices"][0]["message"]["content"]
    assert "I received 1 audio clip: audio/mp3, 100 bytes." in content
    assert "I received 1 video: https://example.com/clip.mp4 (a remote URL, not fetched)." in content


async def test_image_tokens_count_toward_the_prompt(sim, http):
    parts = [{"type": "image_url", "image_url": {"url": data_url("image/png", b"x")}}]
    with_image = await chat(http, sim, {"model": "sim-vision", "messages": [{"role": "user", "content": parts}]})
    without = await chat(http, sim, {"model": "sim-vision", "messages": [{"role": "user", "content": []}]})
    assert with_image.json["usage"]["prompt_tokens"] - without.json["usage"]["prompt_tokens"] == 64


# --- structured outputs -----------------------------------------------------------------------------


async def test_a_literal_regex_pins_the_reply_as_a_real_server_would(sim, http):
    regex = (r"Let me check\.\n<tool_call>\n\{\"name\": \"get_weather\", "
             r"\"arguments\": \{\"city\": \"Oslo\"\}\}\n</tool_call>")
    choice = await say(http, sim, "anything", tools=[WEATHER], structured_outputs={"regex": regex})
    assert choice["message"]["content"] == "Let me check.\n"
    assert choice["message"]["tool_calls"][0]["function"]["arguments"] == '{"city": "Oslo"}'
    plain = await say(http, sim, "anything", structured_outputs={"regex": r"Hello there, world\."})
    assert plain["message"]["content"] == "Hello there, world."


async def test_choices_and_json_schemas_are_honoured(sim, http):
    assert (await say(http, sim, "pick", structured_outputs={"choice": ["yes", "no"]}))["message"]["content"] == "yes"
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
              "required": ["name", "age"]}
    content = (await say(http, sim, "a person", response_format={
        "type": "json_schema", "json_schema": {"name": "p", "schema": schema}}))["message"]["content"]
    assert set(json.loads(content)) == {"name", "age"}


async def test_a_title_request_gets_a_few_words_of_the_quoted_prompt(sim, http) -> None:
    text = "Write a title for this conversation.\n\nUser:\nhow do I batch requests in vllm?\n\nTitle:"
    choice = await say(http, sim, text)
    assert choice["message"]["content"] == "How do I batch requests"


async def test_magic_phrases_win_over_tools_whose_words_match(sim, http) -> None:
    assert await calls(http, sim, "long 50", BUILTINS) == []


async def test_fault_phrases_quoted_in_backticks_do_not_fire(sim, http) -> None:
    choice = await say(http, sim, "what does `sim:error-mid` do?")
    assert choice["finish_reason"] == "stop"


async def test_help_names_this_servers_extras(make_sim, http):
    from vllm_chat.demo import example_adapter_dir

    server = await make_sim(base_models=("sim-base",), loras={"sim-chat-terse": "sim-chat"}, runtime_lora=True,
                            adapter_examples=(example_adapter_dir(),), per_request_metrics=True, max_num_seqs=4,
                            trust_request_chat_template=True)
    content = (await say(http, server, "help"))["message"]["content"]
    for fact in ("`sim-base` has no chat template", "`sim-chat-terse` is a LoRA adapter on `sim-chat`",
                 f"`{example_adapter_dir()}`", "per-request `metrics`", "At most 4 requests run at once",
                 "`chat_template`", "`response_format` / `structured_outputs`", "`sim:load=6 hello`"):
        assert fact in content, fact


async def test_a_quoted_help_reply_sets_off_no_fault(sim, http):
    help_text = (await say(http, sim, "help"))["message"]["content"]
    reply = await chat(http, sim, {"messages": user(f"Write a short title for this:\nUser:\n{help_text}")})
    assert reply.status == 200 and reply.json["choices"][0]["finish_reason"] == "stop"
