"""Base models (no chat template), request chat templates and legacy completions on the
simulated server."""

from __future__ import annotations

import pytest

from vllm_chat.simserver import SimConfig, tokenizer

from .helpers import chat, request, user

NO_TEMPLATE = ("As of transformers v4.44, default chat template is no longer allowed, so you must provide a chat "
               "template if the tokenizer does not define one.")
UNTRUSTED = ("Chat template is passed with request, but --trust-request-chat-template is not set. Refused request "
             "with untrusted chat template.")
PLAIN_TEMPLATE = "{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}" \
                 "{% if add_generation_prompt %}assistant:{% endif %}"


def error(reply) -> tuple[int, str]:
    return reply.status, reply.json["error"]["message"]


@pytest.fixture
async def base(make_sim):
    return await make_sim(base_models=("sim-base",), loras={"sim-base-code": "sim-chat"})


async def test_a_base_model_is_served_beside_the_chat_models(base, http):
    cards = (await request(http, "GET", base.base_url + "/models")).json["data"]
    assert [c["id"] for c in cards] == ["sim-chat", "sim-vision", "sim-base", "sim-base-code"]


async def test_chat_on_a_base_model_gets_vllms_400_streamed_or_not(base, http):
    for stream in (False, True):
        reply = await chat(http, base, {"model": "sim-base", "messages": user("hi"), "stream": stream})
        assert error(reply) == (400, NO_TEMPLATE)
        assert reply.json["error"]["type"] == "BadRequestError" and reply.json["error"]["param"] is None


async def test_tokenize_with_messages_on_a_base_model_gets_the_same_400_and_with_a_prompt_works(base, http):
    messages = await request(http, "POST", base.root_url + "/tokenize", {"model": "sim-base", "messages": user("hi")})
    assert error(messages) == (400, NO_TEMPLATE)
    prompt = await request(http, "POST", base.root_url + "/tokenize", {"model": "sim-base", "prompt": "def f(x):"})
    assert prompt.json == {"count": 5, "max_model_len": 32768,
                           "tokens": [tokenizer.token_id(t) for t in ["def", " f", "(", "x", "):"]],
                           "token_strs": None}


async def test_a_request_template_needs_the_server_to_trust_it(base, http):
    reply = await chat(http, base, {"model": "sim-base", "messages": user("hi"), "chat_template": PLAIN_TEMPLATE})
    assert error(reply) == (400, UNTRUSTED)
    on_chat_model = await chat(http, base, {"messages": user("hi"), "chat_template": PLAIN_TEMPLATE})
    assert error(on_chat_model) == (400, UNTRUSTED)


async def test_a_trusted_request_template_makes_chat_work_on_a_base_model(make_sim, http):
    server = await make_sim(base_models=("sim-base",), trust_request_chat_template=True)
    body = {"model": "sim-base", "messages": user("echo hi"), "chat_template": PLAIN_TEMPLATE}
    reply = await chat(http, server, {**body, "return_prompt_text": True})
    assert reply.json["choices"][0]["message"]["content"] == "hi"
    assert reply.json["prompt_text"] == "user: echo hi\nassistant:"
    counted = await request(http, "POST", server.root_url + "/tokenize",
                            {k: v for k, v in body.items() if k != "max_tokens"} | {"return_token_strs": True})
    assert counted.json["count"] == reply.json["usage"]["prompt_tokens"]
    assert counted.json["token_strs"][:4] == ["user", ":", "Ġecho", "Ġhi"]


async def test_a_request_template_sees_the_template_variables(make_sim, http):
    server = await make_sim(trust_request_chat_template=True)
    template = "{{ bos_token }}|{{ eos_token }}|{{ x }}|{{ enable_thinking }}|{{ reasoning_effort }}|{{ tools|length }}"
    reply = await chat(http, server, {"messages": user("hi"), "chat_template": template, "return_prompt_text": True,
                                      "chat_template_kwargs": {"x": 5}, "reasoning_effort": "low",
                                      "tools": [{"type": "function", "function": {"name": "f"}}]})
    assert reply.json["prompt_text"] == "|<|im_end|>|5|True|low|1"


@pytest.mark.parametrize(("template", "message"), [
    ("{% for m in messages %", "unexpected 'end of template'"),
    ('{{ raise_exception("Roles must alternate") }}', "Roles must alternate"),
    ("{{ foo.bar }}", "'foo' is undefined"),
])
async def test_a_broken_request_template_gets_jinjas_message(make_sim, http, template, message):
    server = await make_sim(trust_request_chat_template=True)
    assert error(await chat(http, server, {"messages": user("hi"), "chat_template": template})) == (400, message)


async def test_the_streamed_prompt_text_rides_on_the_first_chunk_only(make_sim, http):
    server = await make_sim(trust_request_chat_template=True)
    reply = await chat(http, server, {"messages": user("hi"), "stream": True, "n": 2, "return_prompt_text": True})
    assert reply.chunks[0]["prompt_text"] == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    assert reply.chunks[1]["prompt_text"] is None


async def test_completions_on_a_base_model_stream_with_usage(base, http):
    reply = await request(http, "POST", base.base_url + "/completions",
                          {"model": "sim-base", "prompt": "def f(", "max_tokens": 6, "stream": True,
                           "stream_options": {"include_usage": True}})
    texts = [c["choices"][0]["text"] for c in reply.chunks if c["choices"]]
    assert len(texts) == 6 and reply.chunks[-2]["choices"][0]["finish_reason"] == "length"
    assert reply.chunks[-1]["usage"] == {"prompt_tokens": 3, "total_tokens": 9, "completion_tokens": 6}


async def test_completions_stop_at_a_stop_string(base, http):
    free = await request(http, "POST", base.base_url + "/completions",
                         {"model": "sim-base", "prompt": "echo alpha, beta, gamma", "max_tokens": 20})
    assert free.json["choices"][0]["text"] == "alpha, beta, gamma"
    stopped = await request(http, "POST", base.base_url + "/completions",
                            {"model": "sim-base", "prompt": "echo alpha, beta, gamma", "max_tokens": 20,
                             "stop": [", gamma"]})
    choice = stopped.json["choices"][0]
    assert (choice["text"], choice["finish_reason"], choice["stop_reason"]) == ("alpha, beta", "stop", ", gamma")


async def test_echo_repeats_the_prompt_before_the_completion(base, http):
    whole = await request(http, "POST", base.base_url + "/completions",
                          {"model": "sim-base", "prompt": "def f(", "max_tokens": 3, "echo": True})
    assert whole.json["choices"][0]["text"].startswith("def f(") and len(whole.json["choices"][0]["text"]) > 6
    streamed = await request(http, "POST", base.base_url + "/completions",
                             {"model": "sim-base", "prompt": "def f(", "max_tokens": 3, "echo": True,
                              "stream": True})
    first = streamed.chunks[0]["choices"][0]
    assert first["text"].startswith("def f(")
    assert first["prompt_token_ids"] == [tokenizer.token_id(t) for t in ["def", " f", "("]]
    assert streamed.chunks[1]["choices"][0]["prompt_token_ids"] is None
    assert "".join(c["choices"][0]["text"] for c in streamed.chunks) == whole.json["choices"][0]["text"]


async def test_streamed_beam_search_is_refused_on_completions(base, http):
    reply = await request(http, "POST", base.base_url + "/completions",
                          {"model": "sim-base", "prompt": "x", "stream": True, "use_beam_search": True})
    assert error(reply) == (400, "Streaming is not currently supported with beam search")


async def test_a_lora_of_a_base_model_has_no_chat_template_either(make_sim, http):
    server = await make_sim(base_models=("sim-base",), loras={"sim-base-sql": "sim-base"})
    reply = await chat(http, server, {"model": "sim-base-sql", "messages": user("hi")})
    assert error(reply) == (400, NO_TEMPLATE)


def test_a_base_model_not_listed_among_the_models_is_added_to_them():
    assert SimConfig(models=("a",), base_models=("b",)).models == ("a", "b")
