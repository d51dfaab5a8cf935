"""LoRA adapters on the simulated server: cards with a parent, and runtime loading only where
the server allows it (`VLLM_ALLOW_RUNTIME_LORA_UPDATING`), with vLLM's texts."""

from __future__ import annotations

import json

import pytest

from .helpers import chat, request, user


@pytest.fixture
def adapter_dir(tmp_path):
    folder = tmp_path / "my-adapter"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    return str(folder)


@pytest.fixture
async def lora_server(make_sim):
    return await make_sim(runtime_lora=True)


async def load(http, server, body):
    return await request(http, "POST", server.base_url + "/load_lora_adapter", body)


async def test_without_runtime_updating_the_routes_do_not_exist(sim, http):
    for route in ("load_lora_adapter", "unload_lora_adapter"):
        reply = await request(http, "POST", sim.base_url + "/" + route, {"lora_name": "x", "lora_path": "/nonexistent"})
        assert (reply.status, reply.json) == (404, {"detail": "Not Found"})


async def test_loading_an_adapter_answers_plain_text_and_lists_it_under_its_parent(lora_server, http, adapter_dir):
    reply = await load(http, lora_server, {"lora_name": "mine", "lora_path": adapter_dir})
    assert reply.status == 200 and reply.raw == b"Success: LoRA adapter 'mine' added successfully."
    assert "content-type" not in reply.headers
    card = (await request(http, "GET", lora_server.base_url + "/models")).json["data"][-1]
    assert (card["id"], card["parent"], card["root"], card["max_model_len"]) == ("mine", "sim-chat", adapter_dir, None)
    answer = await chat(http, lora_server, {"model": "mine", "messages": user("echo via the adapter")})
    assert answer.json["model"] == "mine" and answer.json["choices"][0]["message"]["content"] == "via the adapter"


async def test_unloading_removes_the_adapter(lora_server, http, adapter_dir):
    await load(http, lora_server, {"lora_name": "mine", "lora_path": adapter_dir})
    reply = await request(http, "POST", lora_server.base_url + "/unload_lora_adapter", {"lora_name": "mine"})
    assert reply.raw == b"Success: LoRA adapter 'mine' removed successfully."
    gone = await chat(http, lora_server, {"model": "mine", "messages": user("hi")})
    assert gone.status == 404


@pytest.mark.parametrize(("body", "status", "type_", "message"), [
    ({"lora_name": "again", "lora_path": "DIR"}, 400, "InvalidUserInput",
     "The lora adapter 'again' has already been loaded. If you want to load the adapter in place, set "
     "'load_inplace' to True."),
    ({"lora_name": "sim-chat", "lora_path": "DIR"}, 400, "InvalidUserInput",
     "The lora adapter 'sim-chat' conflicts with a served base model."),
    ({"lora_name": "", "lora_path": "DIR"}, 400, "InvalidUserInput",
     "Both 'lora_name' and 'lora_path' must be provided."),
    ({"lora_name": "other", "lora_path": "/nonexistent"}, 404, "NotFoundError",
     "Loading lora other failed: No adapter found for /nonexistent"),
    ({"lora_name": "empty", "lora_path": "EMPTY"}, 404, "NotFoundError",
     "Loading lora empty failed: No adapter found for <path>"),
])
async def test_loading_errors_use_vllms_texts(lora_server, http, adapter_dir, tmp_path, body, status, type_, message):
    await load(http, lora_server, {"lora_name": "again", "lora_path": adapter_dir})
    path = {"DIR": adapter_dir, "EMPTY": str(tmp_path)}.get(body["lora_path"], body["lora_path"])
    reply = await load(http, lora_server, {**body, "lora_path": path})
    assert reply.json == {"error": {"message": message, "type": type_, "param": None, "code": status}}


async def test_loading_in_place_replaces_an_adapter(lora_server, http, adapter_dir):
    await load(http, lora_server, {"lora_name": "mine", "lora_path": adapter_dir})
    reply = await load(http, lora_server, {"lora_name": "mine", "lora_path": adapter_dir, "load_inplace": True})
    assert reply.status == 200


async def test_unloading_an_unknown_adapter_is_not_found(lora_server, http):
    reply = await request(http, "POST", lora_server.base_url + "/unload_lora_adapter", {"lora_name": "nope"})
    assert reply.json == {"error": {"message": "The lora adapter 'nope' cannot be found.", "type": "NotFoundError",
                                    "param": None, "code": 404}}


async def test_a_missing_field_is_a_validation_error(lora_server, http):
    reply = await load(http, lora_server, {"lora_name": "x"})
    assert reply.json["error"]["message"] == (
        "1 validation error:\n  {'type': 'missing', 'loc': 'body.lora_path', 'msg': 'Field required', "
        "'input': '<dict of 1 items>'}"
    )


async def test_configured_adapters_have_a_parent_and_no_window_of_their_own(make_sim, http):
    server = await make_sim(loras={"sql": "sim-chat"})
    card = (await request(http, "GET", server.base_url + "/models")).json["data"][-1]
    assert (card["id"], card["parent"], card["max_model_len"]) == ("sql", "sim-chat", None)


async def test_the_routes_need_the_api_key_like_every_v1_route(make_sim, http, adapter_dir):
    server = await make_sim(runtime_lora=True, api_key="k")
    assert (await load(http, server, {"lora_name": "x", "lora_path": adapter_dir})).status == 401
