"""SettingsScreen: the current session's model, system prompt, sampling options, switches,
and vLLM's generation controls (mode, constraint, reasoning; `GenerationFields`).

The screen only draws and collects text; `core.params_form` turns the text
into validated `SamplingParams` and words every refusal the way vLLM would.
Each field is checked as it is typed, its message shown right under it, and
ctrl+s is refused while anything is invalid. Saving dismisses with a
`SessionSettingsResult`; Esc dismisses with None.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import (
    Input,
    Label,
    RadioButton,
    RadioSet,
    Select,
    Static,
    Switch,
    TextArea,
)

from vllm_chat.core.conversation import Conversation
from vllm_chat.core.generation.form import GenerationCheck
from vllm_chat.core.models import ModelInfo, context_window
from vllm_chat.core.params_form import (
    NUMBER_FIELDS,
    STOP_SLOTS,
    FormCheck,
    NumberField,
    SessionSettingsResult,
    check_form,
    number_texts,
    stop_texts,
)
from vllm_chat.core.text import inert
from vllm_chat.ui.keys import with_keys
from vllm_chat.ui.widgets.generation_fields import FIELD_IDS as GENERATION_FIELD_IDS
from vllm_chat.ui.widgets.generation_fields import GenerationFields

THINKING_CHOICES: tuple[tuple[str, bool | None], ...] = (("default", None), ("on", True), ("off", False))
"""The thinking radio buttons: label and the `enable_thinking` value each one stands for."""

SAMPLING_HEADING = "Sampling · an empty field leaves it to the server"
"""The heading over the sampling options while none of them has focus."""

_LEFT = ("temperature", "top_p", "top_k", "min_p", "max_tokens")
_FIELDS = {spec.name: spec for spec in NUMBER_FIELDS}


def _label_of(widget: Widget) -> Label | None:
    """The label on the left of `widget` in its row, if it has one."""
    parent = widget.parent
    if parent is None:
        return None
    siblings = list(parent.children)
    for sibling in reversed(siblings[: siblings.index(widget)]):
        if isinstance(sibling, Label):
            return sibling
    return None


class ParamField(Vertical):
    """One numeric option: its name, a one-line input, and the message when it is invalid."""

    def __init__(self, spec: NumberField, value: str) -> None:
        super().__init__(classes="param")
        self.spec = spec
        """What the field holds (name, integer or float, accepted range)."""
        self._value = value

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(self.spec.name, classes="field-label")
            yield Input(self._value, placeholder=self.spec.placeholder, compact=True,
                        id=f"param-{self.spec.name}", tooltip=self.spec.help)
        yield Static("", id=f"param-{self.spec.name}-error", classes="field-error")


class SettingsScreen(ModalScreen[SessionSettingsResult | None]):
    """The session's settings in one form; ctrl+s saves (when valid), Esc cancels."""

    CSS_PATH = "settings.tcss"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "save", "Save", priority=True, id="save-settings"),
        Binding("escape", "cancel", "Cancel", id="cancel-settings"),
    ]

    def __init__(
        self,
        conversation: Conversation,
        models: list[ModelInfo],
        *,
        tools_available: bool = True,
        tools_default: bool = True,
    ) -> None:
        super().__init__()
        self.conversation = conversation
        """The conversation whose settings are shown (read only; the caller applies the result)."""
        self.models = list(models)
        """The server's models (empty: the model is typed by name)."""
        self.tools_available = tools_available
        """Whether this run has tools at all (False: the tools switch is disabled)."""
        self.tools_default = tools_default
        """Whether tools are on for a conversation that has no switch of its own."""
        self.check: FormCheck = FormCheck(conversation.params)
        """The latest check of the form (updated as the user types)."""
        self.generation: GenerationCheck = GenerationCheck(None)
        """The latest check of the generation fields (mode, constraint, reasoning)."""
        self._save_refused = False

    # -- layout -------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        conv = self.conversation
        numbers = number_texts(conv.params)
        with Vertical(id="settings-dialog"):
            yield Static(Text.assemble(("Session settings", "bold"),
                                       ("  apply from the next turn · saved with the session", "dim")),
                         classes="title")
            with VerticalScroll(id="settings-body"):
                with Horizontal(classes="field-row"):
                    yield Label("model", classes="field-label")
                    yield self._model_widget()
                with Horizontal(classes="field-row prompt-row"):
                    yield Label("system prompt", classes="field-label")
                    # inert: a text box draws control characters raw (a session file may hold any)
                    yield TextArea(inert(conv.system_prompt), soft_wrap=True, compact=True,
                                   highlight_cursor_line=False, id="settings-system-prompt")
                yield Static(SAMPLING_HEADING, id="settings-sampling", classes="section", markup=False)
                with Horizontal(id="settings-numbers"):
                    with Vertical(classes="column"):
                        for name in _LEFT:
                            yield ParamField(_FIELDS[name], numbers[name])
                    with Vertical(classes="column right"):
                        for spec in NUMBER_FIELDS:
                            if spec.name not in _LEFT:
                                yield ParamField(spec, numbers[spec.name])
                with Horizontal(classes="field-row"):
                    yield Label("stop", classes="field-label")
                    for i, text in enumerate(stop_texts(conv.params), start=1):
                        yield Input(inert(text), placeholder=f"string {i}", compact=True,
                                    id=f"stop-{i}", classes="stop")
                yield Static("", id="stop-error", classes="field-error")
                yield Static("one string per box, blank boxes unused · \\n newline · \\t tab",
                             classes="note", markup=False)
                with Horizontal(classes="field-row switches"):
                    yield Label("thinking", classes="field-label")
                    with RadioSet(id="settings-thinking", compact=True):
                        for label, value in THINKING_CHOICES:
                            yield RadioButton(label, value=conv.params.enable_thinking is value,
                                              id=f"thinking-{label}", compact=True)
                    yield Label("tools", classes="field-label tools-label")
                    yield Switch(self._tools_initial, id="settings-tools",
                                 disabled=not self.tools_available)
                    yield Static("", id="settings-tools-state")
                yield Static("thinking: for templates that read enable_thinking (Qwen3, …)",
                             classes="note", markup=False)
                yield GenerationFields(conv, base=Path.cwd())
            with Vertical(id="settings-footer"):
                yield Static("", id="settings-summary")
                yield Static(with_keys(self.app, "{save-settings} save · {cancel-settings} cancel · "
                                                 "tab / shift+tab next / previous field"),
                             classes="hint", markup=False)

    def _model_widget(self) -> Widget:
        current = self.conversation.model
        if not self.models:
            return Input(inert(current), placeholder="model name (the server listed none)",
                         compact=True, id="settings-model")
        ids = [m.id for m in self.models]
        options = [(Text(inert(m)), m) for m in ids]
        if current and current not in ids:
            options.insert(0, (Text(inert(current)) + Text("  (not listed by the server)", "dim"), current))
        value = current if current else ids[0]
        return Select(options, value=value, allow_blank=False, compact=True, id="settings-model")

    @property
    def _tools_initial(self) -> bool:
        enabled = self.conversation.tools_enabled
        return self.tools_default if enabled is None else enabled

    def _show_tools_state(self) -> None:
        if not self.tools_available:
            state = "none in this run"
        else:
            state = "on" if self.query_one("#settings-tools", Switch).value else "off"
            if self.tools_enabled is None:
                state += " (as configured)"
        self.query_one("#settings-tools-state", Static).update(state)

    def on_mount(self) -> None:
        area = self.query_one("#settings-system-prompt", TextArea)
        if self.app.is_headless:
            area.cursor_blink = False
        self._refresh_check()
        self._show_tools_state()
        self.query_one("#settings-model").focus()

    # -- reading the form --------------------------------------------------------------

    @property
    def model(self) -> str:
        """The model chosen in the form."""
        widget = self.query_one("#settings-model")
        if isinstance(widget, Select):
            value = widget.value
            return value if isinstance(value, str) else ""
        assert isinstance(widget, Input)
        return widget.value.strip()

    @property
    def enable_thinking(self) -> bool | None:
        """The thinking choice: None (template default), True or False."""
        index = self.query_one("#settings-thinking", RadioSet).pressed_index
        return THINKING_CHOICES[index][1] if index >= 0 else None

    @property
    def tools_enabled(self) -> bool | None:
        """The tools switch for this session; None while it still follows the global setting."""
        if not self.tools_available:
            return self.conversation.tools_enabled
        value = self.query_one("#settings-tools", Switch).value
        if self.conversation.tools_enabled is None and value == self._tools_initial:
            return None
        return value

    def _check_form(self) -> FormCheck:
        numbers = {spec.name: self.query_one(f"#param-{spec.name}", Input).value for spec in NUMBER_FIELDS}
        stops = [self.query_one(f"#stop-{i}", Input).value for i in range(1, STOP_SLOTS + 1)]
        return check_form(numbers, stops, self.enable_thinking,
                          max_model_len=context_window(self.models, self.model))

    def _refresh_check(self) -> None:
        self.check = self._check_form()
        for spec in NUMBER_FIELDS:
            self._show_error(f"#param-{spec.name}-error", self.check.errors.get(spec.name))
            self.query_one(f"#param-{spec.name}", Input).set_class(spec.name in self.check.errors, "-invalid")
        self._show_error("#stop-error", self.check.errors.get("stop"))
        for box in self.query(".stop"):
            box.set_class("stop" in self.check.errors, "-invalid")
        self.generation = self.query_one(GenerationFields).refresh_check()
        if self._save_refused:
            self._show_error("#settings-summary", self._summary())

    def _summary(self) -> str | None:
        names = [*self.check.errors, *self.generation.errors]
        if not names:
            return None
        fields = "field" if len(names) == 1 else "fields"
        return f"Fix {len(names)} {fields} before saving: {', '.join(names)}."

    def _show_error(self, selector: str, message: str | None) -> None:
        widget = self.query_one(selector, Static)
        widget.update(Text(inert(message or "")))
        widget.display = bool(message)

    # -- events ------------------------------------------------------------------------

    @on(Input.Changed)
    @on(Select.Changed)
    @on(RadioSet.Changed)
    def _revalidate(self) -> None:
        self._refresh_check()

    @on(events.DescendantFocus)
    def _explain_focused(self, event: events.DescendantFocus) -> None:
        # The heading explains the focused option: tooltips never show for keyboard users.
        heading = SAMPLING_HEADING
        name = (event.widget.id or "").removeprefix("param-")
        if name in _FIELDS:
            heading = f"Sampling · {name}: {_FIELDS[name].help}"
        self.query_one("#settings-sampling", Static).update(heading)
        for label in self.query(".field-label.-current"):
            label.remove_class("-current")
        label = _label_of(event.widget)
        if label is not None:
            label.add_class("-current")

    @on(Switch.Changed)
    def _tools_changed(self) -> None:
        self._show_tools_state()

    @on(Input.Submitted)
    def _next_field(self) -> None:
        self.focus_next()

    # -- actions -----------------------------------------------------------------------

    def action_save(self) -> None:
        """Hand back the settings, or say what to fix first."""
        self._refresh_check()
        params = self.check.params
        if params is None or self.generation.choice is None:
            self._save_refused = True
            summary = self._summary() or ""
            self._show_error("#settings-summary", summary)
            self.notify(summary, title="Settings not saved", severity="error", markup=False)
            if self.check.errors:
                first = next(iter(self.check.errors))
                self.query_one("#stop-1" if first == "stop" else f"#param-{first}").focus()
            else:
                self.query_one(f"#{GENERATION_FIELD_IDS[next(iter(self.generation.errors))]}").focus()
            return
        self.dismiss(SessionSettingsResult(
            model=self.model,
            system_prompt=self.query_one("#settings-system-prompt", TextArea).text.strip(),
            params=params,
            tools_enabled=self.tools_enabled,
            generation=self.generation.choice,
        ))

    def action_cancel(self) -> None:
        """Close without changing anything."""
        self.dismiss(None)
