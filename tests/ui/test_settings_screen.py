"""The settings panel, driven by keys: what it shows, what it hands back, and what it refuses."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import Input, RadioSet, Select, Static, Switch, TextArea

from tests.support.pilot import (
    record_notifications,
    wait_for_screen,
    wait_for_text,
    wait_until,
)
from vllm_chat.core.conversation import Conversation
from vllm_chat.core.models import ModelInfo
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.params_form import SessionSettingsResult
from vllm_chat.ui.screens.settings import SettingsScreen

MODELS = [ModelInfo("Qwen/Qwen3-8B", max_model_len=32768), ModelInfo("small-model", max_model_len=2048)]


class Host(App):
    """Opens the settings screen and keeps what it is dismissed with."""

    def __init__(self, screen: SettingsScreen) -> None:
        super().__init__()
        self.settings_screen = screen
        self.results: list[SessionSettingsResult | None] = []

    def on_mount(self) -> None:
        self.push_screen(self.settings_screen, self.results.append)


def conversation(**fields: Any) -> Conversation:
    values: dict[str, Any] = {
        "model": "Qwen/Qwen3-8B",
        "system_prompt": "Be brief.",
        "params": SamplingParams(temperature=0.7, max_tokens=512, seed=7, stop=["\n\nUser:", "###"],
                                 enable_thinking=False),
    }
    values.update(fields)
    return Conversation(**values)


def host(conv: Conversation | None = None, models: list[ModelInfo] | None = None, **kwargs: Any) -> Host:
    app = Host(SettingsScreen(conv or conversation(), MODELS if models is None else models, **kwargs))
    record_notifications(app)
    return app


async def type_into(pilot, selector: str, text: str) -> None:
    """Focus the input, wipe it with keys, and type `text` key by key."""
    widget = pilot.app.screen.query_one(selector, Input)
    widget.focus()
    await pilot.press("home", "ctrl+k", *text)


def field(pilot, selector: str) -> Any:
    return pilot.app.screen.query_one(selector)


def error_under(pilot, name: str) -> str:
    widget = pilot.app.screen.query_one(f"#param-{name}-error", Static)
    return str(widget.render()) if widget.display else ""


async def opened(pilot) -> SettingsScreen:
    """Wait until the settings screen is up and drawn."""
    return await wait_for_screen(pilot, pilot.app, SettingsScreen)


async def saved(pilot) -> SessionSettingsResult:
    await pilot.press("ctrl+s")
    await wait_until(pilot, lambda: pilot.app.results, message="the screen to be dismissed")
    result = pilot.app.results[-1]
    assert isinstance(result, SessionSettingsResult)
    return result


async def test_the_panel_opens_with_the_conversations_settings_filled_in() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert field(pilot, "#settings-model").value == "Qwen/Qwen3-8B"
        assert field(pilot, "#settings-system-prompt").text == "Be brief."
        assert field(pilot, "#param-temperature").value == "0.7"
        assert field(pilot, "#param-max_tokens").value == "512"
        assert field(pilot, "#param-seed").value == "7"
        assert field(pilot, "#param-top_p").value == ""
        assert field(pilot, "#param-top_p").placeholder == "default · (0, 1]"
        assert [field(pilot, f"#stop-{i}").value for i in range(1, 5)] == [r"\n\nUser:", "###", "", ""]
        assert field(pilot, "#settings-thinking").pressed_button.id == "thinking-off"
        text = await wait_for_text(pilot, app, "Session settings", "ctrl+s save", "esc cancel", "default · (0, 1]")
        assert "default · 0–2" not in text, "temperature has a value, so no placeholder"


async def test_saving_hands_back_the_edited_values_with_the_right_types() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await type_into(pilot, "#param-temperature", "1")
        await type_into(pilot, "#param-top_p", "0.9")
        await type_into(pilot, "#param-top_k", "40")
        await type_into(pilot, "#param-repetition_penalty", "1.05")
        await type_into(pilot, "#param-presence_penalty", "-0.5")
        await type_into(pilot, "#param-max_tokens", "")
        await type_into(pilot, "#stop-3", r"\t")
        result = await saved(pilot)
    params = result.params
    assert params.temperature == 1.0 and type(params.temperature) is float
    assert params.top_p == 0.9 and params.repetition_penalty == 1.05 and params.presence_penalty == -0.5
    assert params.top_k == 40 and type(params.top_k) is int
    assert params.seed == 7 and type(params.seed) is int
    assert params.max_tokens is None, "a cleared field goes back to the server default"
    assert params.min_p is None and params.frequency_penalty is None
    assert params.stop == ["\n\nUser:", "###", "\t"]
    assert params.enable_thinking is False
    assert result.model == "Qwen/Qwen3-8B" and result.system_prompt == "Be brief."
    assert result.tools_enabled is None


async def test_an_invalid_value_shows_vllms_message_under_the_field_as_it_is_typed() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await type_into(pilot, "#param-temperature", "5")
        assert error_under(pilot, "temperature") == "temperature must be in [0, 2], got 5.0."
        assert field(pilot, "#param-temperature").has_class("-invalid")
        await wait_for_text(pilot, app, "temperature must be in [0, 2], got 5.0.")
        await type_into(pilot, "#param-temperature", "2")
        assert error_under(pilot, "temperature") == ""
        assert not field(pilot, "#param-temperature").has_class("-invalid")


async def test_saving_is_refused_while_a_field_is_invalid_and_says_what_to_fix() -> None:
    app = host()
    async with app.run_test(size=(120, 40), notifications=True) as pilot:
        await opened(pilot)
        await type_into(pilot, "#param-top_k", "-2")
        await type_into(pilot, "#param-seed", "abc")
        field(pilot, "#settings-system-prompt").focus()
        await pilot.press("ctrl+s")
        summary = field(pilot, "#settings-summary")
        await wait_until(pilot, lambda: summary.display)
        assert str(summary.render()) == "Fix 2 fields before saving: top_k, seed."
        assert app.results == [] and isinstance(app.screen, SettingsScreen)
        assert error_under(pilot, "top_k") == "top_k must be 0 (disable), or at least 1, got -2."
        assert error_under(pilot, "seed") == "seed must be an integer, got 'abc'."
        assert "Fix 2 fields before saving: top_k, seed." in app.notes_seen
        assert app.focused is field(pilot, "#param-top_k"), "focus goes to the first field to fix"
        await type_into(pilot, "#param-top_k", "0")
        assert str(summary.render()) == "Fix 1 field before saving: seed.", "the summary follows the fixes"
        await type_into(pilot, "#param-seed", "")
        assert not summary.display
        result = await saved(pilot)
    assert result.params.top_k == 0 and result.params.seed is None


async def test_too_many_tokens_for_the_chosen_model_is_caught_and_follows_the_model() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await type_into(pilot, "#param-max_tokens", "4096")
        assert error_under(pilot, "max_tokens") == ""
        field(pilot, "#settings-model").value = "small-model"
        await wait_until(pilot, lambda: error_under(pilot, "max_tokens") == (
            "max_tokens=4096 cannot be greater than max_model_len=2048. Please request fewer output tokens."))


async def test_escape_cancels_with_none() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await type_into(pilot, "#param-temperature", "0.1")
        await pilot.press("escape")
        await wait_until(pilot, lambda: app.results, message="the screen to be dismissed")
    assert app.results == [None]


async def test_escape_in_an_open_model_list_closes_only_the_list() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert app.focused is field(pilot, "#settings-model")
        await pilot.press("enter")
        await wait_until(pilot, lambda: field(pilot, "#settings-model").expanded)
        await pilot.press("escape")
        await wait_until(pilot, lambda: not field(pilot, "#settings-model").expanded)
        assert app.results == [] and isinstance(app.screen, SettingsScreen)


async def test_ctrl_s_saves_from_inside_the_system_prompt_box() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await pilot.press("tab")
        assert app.focused is field(pilot, "#settings-system-prompt")
        await pilot.press("end", "enter", *"Cite sources.")
        result = await saved(pilot)
    assert result.system_prompt == "Be brief.\nCite sources."


async def test_tab_and_shift_tab_walk_the_fields_in_reading_order() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        order = []
        for _ in range(18):
            order.append(app.focused.id)
            await pilot.press("tab")
        assert order == [
            "settings-model", "settings-system-prompt",
            "param-temperature", "param-top_p", "param-top_k", "param-min_p", "param-max_tokens",
            "param-repetition_penalty", "param-presence_penalty", "param-frequency_penalty", "param-seed",
            "param-logprobs", "stop-1", "stop-2", "stop-3", "stop-4", "settings-thinking", "settings-tools",
        ]
        await pilot.press("shift+tab", "shift+tab")
        assert app.focused.id == "settings-thinking"


async def test_enter_in_a_field_moves_to_the_next_one() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        await type_into(pilot, "#param-temperature", "0.3")
        await pilot.press("enter")
        assert app.focused.id == "param-top_p"
        assert app.results == []


async def test_thinking_has_three_states_chosen_by_keys() -> None:
    seen = []
    for presses in (["left", "left", "enter"], ["left", "enter"], []):
        app = host()
        async with app.run_test(size=(120, 40)) as pilot:
            await opened(pilot)
            field(pilot, "#settings-thinking").focus()
            await pilot.press("right", "right", *presses)
            seen.append((await saved(pilot)).params.enable_thinking)
    assert seen == [None, True, False]


async def test_thinking_starts_on_default_when_the_conversation_has_no_choice() -> None:
    app = host(conversation(params=SamplingParams()))
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert field(pilot, "#settings-thinking").pressed_button.id == "thinking-default"
        result = await saved(pilot)
    assert result.params == SamplingParams()


async def test_the_tools_switch_keeps_following_the_config_until_it_is_flipped() -> None:
    app = host(tools_default=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert field(pilot, "#settings-tools").value is True
        await wait_for_text(pilot, app, "on (as configured)")
        result = await saved(pilot)
    assert result.tools_enabled is None

    app = host(tools_default=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        field(pilot, "#settings-tools").focus()
        await pilot.press("space")
        assert field(pilot, "#settings-tools").value is False
        await wait_for_text(pilot, app, absent=["(as configured)"])
        result = await saved(pilot)
    assert result.tools_enabled is False


async def test_a_session_choice_for_tools_is_shown_and_can_be_turned_on() -> None:
    app = host(conversation(tools_enabled=False), tools_default=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert field(pilot, "#settings-tools").value is False
        field(pilot, "#settings-tools").focus()
        await pilot.press("enter")
        result = await saved(pilot)
    assert result.tools_enabled is True


async def test_without_tools_the_switch_is_disabled_and_the_session_choice_kept() -> None:
    app = host(conversation(tools_enabled=True), tools_available=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert field(pilot, "#settings-tools").disabled
        await wait_for_text(pilot, app, "none in this run")
        result = await saved(pilot)
    assert result.tools_enabled is True


async def test_a_model_is_chosen_from_the_servers_list_by_keys() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert isinstance(field(pilot, "#settings-model"), Select)
        await pilot.press("enter", "down", "enter")
        assert field(pilot, "#settings-model").value == "small-model"
        result = await saved(pilot)
    assert result.model == "small-model"


async def test_a_model_the_server_does_not_list_stays_selected_and_is_marked() -> None:
    app = host(conversation(model="gone-model"))
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert field(pilot, "#settings-model").value == "gone-model"
        await wait_for_text(pilot, app, "not listed by the server")
        result = await saved(pilot)
    assert result.model == "gone-model"


async def test_without_a_model_list_the_model_is_typed_by_name() -> None:
    app = host(models=[])
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert isinstance(field(pilot, "#settings-model"), Input)
        assert field(pilot, "#settings-model").value == "Qwen/Qwen3-8B"
        await type_into(pilot, "#settings-model", "  other/model ")
        result = await saved(pilot)
    assert result.model == "other/model"


async def test_model_names_with_control_characters_are_shown_inert() -> None:
    app = host(conversation(model="evil\x1b[2Jmodel"), models=[ModelInfo("evil\x1b[2Jmodel")])
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        text = await wait_for_text(pilot, app, "␛[2Jmodel")
        assert "\x1b[2J" not in text


async def test_the_panel_fits_80_by_24_with_its_keys_visible_and_scrolls_to_any_field() -> None:
    app = host()
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        dialog = field(pilot, "#settings-dialog")
        assert dialog.region.right <= 80 and dialog.region.bottom <= 24
        for name in ("temperature", "top_k", "seed", "max_tokens"):
            await type_into(pilot, f"#param-{name}", "abc")
        await wait_for_text(pilot, app, "ctrl+s save", "Session settings")
        field(pilot, "#settings-tools").focus()
        tools = field(pilot, "#settings-tools")
        body = field(pilot, "#settings-body")
        # Scrolling to the focused field is animated: poll until it has landed.
        await wait_until(pilot, lambda: body.region.contains_region(tools.region),
                         message="the focused field scrolled into view")
        assert body.max_scroll_y > 0, "with messages shown, the form scrolls"


async def test_at_120_by_40_the_whole_form_shows_without_scrolling() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert field(pilot, "#settings-body").max_scroll_y == 0
        await wait_for_text(pilot, app, "model", "system prompt", "temperature", "frequency_penalty", "stop",
                            "thinking", "tools")


async def test_the_system_prompt_box_is_multi_line() -> None:
    app = host(conversation(system_prompt="one\ntwo\nthree"))
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        area = field(pilot, "#settings-system-prompt")
        assert isinstance(area, TextArea) and area.size.height >= 3
        await wait_for_text(pilot, app, "one", "two", "three")


async def test_the_radio_set_and_switch_are_the_kinds_the_keys_expect() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        assert isinstance(field(pilot, "#settings-thinking"), RadioSet)
        assert isinstance(field(pilot, "#settings-tools"), Switch)


async def test_the_sampling_heading_explains_the_focused_option() -> None:
    app = host()
    async with app.run_test(size=(80, 24)) as pilot:
        await opened(pilot)
        await wait_for_text(pilot, app, "an empty field leaves it to the server")
        field(pilot, "#param-repetition_penalty").focus()
        await wait_for_text(pilot, app, "Sampling · repetition_penalty: above 1 discourages repetition; 1 is off")


async def test_the_label_of_the_focused_field_is_marked() -> None:
    app = host()
    async with app.run_test(size=(120, 40)) as pilot:
        await opened(pilot)
        for selector, label in (("#param-top_p", "top_p"), ("#stop-3", "stop"), ("#settings-tools", "tools"),
                                ("#settings-model", "model")):
            field(pilot, selector).focus()
            await wait_until(pilot, lambda: [str(w.render()) for w in app.screen.query(".field-label.-current")]
                             == [label], message=f"only {label} marked")  # noqa: B023
