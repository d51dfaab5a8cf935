"""LoRA adapters in the model picker: each adapter under its base model with the base's context
window; where the server loads adapters at runtime, loading one by name and path and
unloading it from the picker; where it doesn't, the server settings that enable it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import TEST_API_KEY
from tests.support.pilot import screen_text, wait_for_screen, wait_for_text, wait_until
from vllm_chat.simserver import SimConfig, SimServer
from vllm_chat.ui.screens.confirm import ConfirmScreen
from vllm_chat.ui.screens.lora_load import LoraLoadScreen
from vllm_chat.ui.screens.model_picker import LOAD_ADAPTER, ModelPickerScreen


def adapter_dir(tmp_path: Path) -> str:
    folder = tmp_path / "formal"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 8}))
    return str(folder)


async def open_picker(app, pilot) -> ModelPickerScreen:
    await wait_until(pilot, lambda: app.session.models, message="connected")
    await pilot.press("ctrl+o")
    return await wait_for_screen(pilot, app, ModelPickerScreen)


async def test_adapters_are_listed_under_their_base_model_with_its_context_window(make_app) -> None:
    config = SimConfig(api_key=TEST_API_KEY, loras={"sim-chat-terse": "sim-chat"}, max_model_len=8192)
    async with SimServer(config) as server, make_app(base_url=server.base_url, model="sim-chat") as (app, pilot):
        picker = await open_picker(app, pilot)
        ids = [item_id for item_id, _ in picker.items]
        assert ids.index("sim-chat-terse") == ids.index("sim-chat") + 1, "the adapter comes right under its base"
        # Its window is its base's (its card says null). Loading is off, so no "Load" entry.
        await wait_for_text(pilot, app, "↳ sim-chat-terse  8.2k ctx · LoRA", "Loading LoRA adapters at runtime is off",
                            absent=["Load a LoRA adapter"])


async def test_where_runtime_loading_is_off_the_picker_names_the_server_settings(make_app) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY)) as server, \
            make_app(base_url=server.base_url, size=(100, 40)) as (app, pilot):
        await open_picker(app, pilot)
        await wait_for_text(pilot, app, "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True", "--enable-lora")


async def test_an_adapter_is_loaded_from_the_picker_and_unloaded_again(tmp_path: Path, make_app) -> None:
    config = SimConfig(api_key=TEST_API_KEY, runtime_lora=True)
    async with SimServer(config) as server, \
            make_app(base_url=server.base_url, model="sim-chat", size=(100, 40)) as (app, pilot):
        picker = await open_picker(app, pilot)
        picker.query_one("OptionList").highlighted = [i for i, _ in picker.items].index(LOAD_ADAPTER)
        await pilot.press("enter")
        await wait_for_screen(pilot, app, LoraLoadScreen)
        await pilot.press(*"formal", "enter")
        await pilot.press(*adapter_dir(tmp_path), "enter")
        await wait_until(pilot, lambda: "Loaded formal (LoRA on sim-chat)" in screen_text(app))
        picker = await wait_for_screen(pilot, app, ModelPickerScreen)
        assert picker.highlight == "formal"
        await wait_until(pilot, lambda: "↳ formal" in screen_text(app), message="the new adapter, under its base")

        await pilot.press("d")
        await wait_for_screen(pilot, app, ConfirmScreen)
        await wait_for_text(pilot, app, "Unload the adapter formal")
        await pilot.press("y")
        await wait_until(pilot, lambda: "Unloaded formal." in screen_text(app))
        assert "formal" not in [m.id for m in app.session.models]


async def test_a_load_the_server_refuses_is_explained(tmp_path: Path, make_app) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, runtime_lora=True)) as server, \
            make_app(base_url=server.base_url, size=(100, 40)) as (app, pilot):
        await wait_until(pilot, lambda: app.session.models, message="connected")
        app.chat.action_load_adapter()
        await wait_for_screen(pilot, app, LoraLoadScreen)
        await pilot.press(*"formal", "enter", *str(tmp_path / "missing"), "enter")
        await wait_for_text(pilot, app, "No adapter found", "adapter_config.json")


async def test_only_an_adapter_can_be_unloaded(make_app) -> None:
    async with SimServer(SimConfig(api_key=TEST_API_KEY, runtime_lora=True)) as server, \
            make_app(base_url=server.base_url, model="sim-chat") as (app, pilot):
        await open_picker(app, pilot)
        await pilot.press("d")
        await wait_until(pilot, lambda: "Only a LoRA adapter" in screen_text(app))
        assert isinstance(app.screen, ModelPickerScreen)
