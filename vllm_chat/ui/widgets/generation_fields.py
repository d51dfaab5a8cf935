"""GenerationFields: the settings panel's rows for vLLM's generation controls.

Mode (chat or completion), the structured-output constraint (a kind and one
line of text), and the reasoning controls (reasoning_effort,
thinking_token_budget, include_reasoning, chat_template_kwargs). The widget
only draws and reads the boxes; `core.generation.form` turns the texts into
values or messages, which appear under the field they are about.
"""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Label, RadioButton, RadioSet, Select, Static

from vllm_chat.core.conversation import Conversation, ConversationKind
from vllm_chat.core.generation.form import (
    CONSTRAINT_OPTIONS,
    OPTION_BY_KIND,
    GenerationCheck,
    KindOption,
    check_generation,
    constraint_text,
    kwargs_text,
)
from vllm_chat.core.generation.reasoning import REASONING_EFFORTS
from vllm_chat.core.text import inert

MODES: tuple[tuple[str, ConversationKind], ...] = (("chat", "chat"), ("completion", "completion"))
"""The mode radio buttons: label and the conversation kind each stands for."""

INCLUDE_CHOICES: tuple[tuple[str, str, bool | None], ...] = (
    ("default", "default", None), ("include", "include", True), ("omit", "omit", False))
"""The include_reasoning radio buttons: id suffix, label and value."""

_ERROR_IDS = {"constraint": "gen-constraint-error", "thinking_token_budget": "gen-budget-error",
              "reasoning_effort": "gen-budget-error", "chat_template_kwargs": "gen-kwargs-error"}
FIELD_IDS = {"constraint": "gen-constraint", "thinking_token_budget": "gen-budget",
             "reasoning_effort": "gen-effort", "chat_template_kwargs": "gen-kwargs"}
"""The box to focus for each field that can be invalid."""


class GenerationFields(Vertical):
    """Mode, constraint and reasoning controls of one conversation, as form rows."""

    DEFAULT_CSS = """
    GenerationFields {
        height: auto;
        & .gen-row { height: auto; }
        & RadioSet { width: auto; height: 1; layout: horizontal; background: transparent; }
        & RadioSet RadioButton { width: auto; margin-right: 1; }
        & RadioSet:blur > RadioButton.-selected > .toggle--label { background: transparent; }
        & #gen-constraint-kind { width: 18; margin-right: 1; }
        & #gen-constraint { width: 1fr; }
        & #gen-effort { width: 14; }
        & #gen-budget { width: 10; }
        & #gen-kwargs { width: 1fr; }
        & .inline-label { width: auto; margin: 0 1 0 2; color: $text-muted; }
        & .field-error { padding-left: 15; }
    }
    """

    def __init__(self, conversation: Conversation, *, base: Path | None = None) -> None:
        super().__init__(id="generation-fields")
        self.conversation = conversation
        """The conversation whose controls are shown (read only)."""
        self.base = base
        """The folder relative schema and grammar files are read from."""
        self.check: GenerationCheck = GenerationCheck(None)
        """The latest check of these fields."""

    def compose(self) -> ComposeResult:
        conv = self.conversation
        controls = conv.reasoning_controls
        yield Static("Generation · vLLM extras, saved with the conversation", classes="section", markup=False)
        with Horizontal(classes="field-row gen-row"):
            yield Label("mode", classes="field-label")
            with RadioSet(id="gen-mode", compact=True):
                for label, kind in MODES:
                    yield RadioButton(label, value=conv.kind == kind, id=f"gen-mode-{label}", compact=True)
        yield Static("completion: the conversation is one document the model continues (base models)",
                     classes="note", markup=False)
        with Horizontal(classes="field-row gen-row"):
            yield Label("constraint", classes="field-label")
            kind = conv.constraint.kind if conv.constraint else None
            yield Select([(o.label, o.label) for o in CONSTRAINT_OPTIONS], value=OPTION_BY_KIND[kind].label,
                         allow_blank=False, compact=True, id="gen-constraint-kind")
            yield Input(constraint_text(conv.constraint), placeholder=OPTION_BY_KIND[kind].placeholder,
                        compact=True, id="gen-constraint", disabled=kind in (None, "json_object"))
        yield Static("", id="gen-constraint-error", classes="field-error")
        with Horizontal(classes="field-row gen-row"):
            yield Label("effort", classes="field-label")
            efforts = [("default", "")] + [(e, e) for e in REASONING_EFFORTS]
            current = controls.reasoning_effort or ""
            if current and current not in REASONING_EFFORTS:
                efforts.append((inert(current), current))
            yield Select(efforts, value=current, allow_blank=False, compact=True, id="gen-effort",
                         tooltip="reasoning_effort")
            yield Label("budget", classes="inline-label")
            yield Input("" if controls.thinking_token_budget is None else str(controls.thinking_token_budget),
                        placeholder="tokens", compact=True, id="gen-budget", tooltip="thinking_token_budget")
        yield Static("", id="gen-budget-error", classes="field-error")
        with Horizontal(classes="field-row gen-row"):
            yield Label("reasoning", classes="field-label")
            with RadioSet(id="gen-include", compact=True, tooltip="include_reasoning"):
                for key, label, value in INCLUDE_CHOICES:
                    yield RadioButton(label, value=controls.include_reasoning is value,
                                      id=f"gen-include-{key}", compact=True)
        with Horizontal(classes="field-row gen-row"):
            yield Label("template vars", classes="field-label")
            yield Input(kwargs_text(controls), placeholder="enable_thinking=false, or a JSON object",
                        compact=True, id="gen-kwargs", tooltip="chat_template_kwargs")
        yield Static("", id="gen-kwargs-error", classes="field-error")
        yield Static("effort: reasoning_effort · budget: thinking_token_budget · reasoning: "
                     "include_reasoning · template vars: chat_template_kwargs", classes="note", markup=False)

    # -- reading ---------------------------------------------------------------------------

    @property
    def mode(self) -> ConversationKind:
        """The mode chosen: chat or completion."""
        index = self.query_one("#gen-mode", RadioSet).pressed_index
        return MODES[index][1] if index >= 0 else self.conversation.kind

    @property
    def constraint_option(self) -> KindOption:
        """The constraint kind chosen."""
        label = self.query_one("#gen-constraint-kind", Select).value
        return next((o for o in CONSTRAINT_OPTIONS if o.label == label), CONSTRAINT_OPTIONS[0])

    def refresh_check(self) -> GenerationCheck:
        """Check every field now, show each message under its field, and return the outcome."""
        option = self.constraint_option
        box = self.query_one("#gen-constraint", Input)
        box.disabled = option.kind in (None, "json_object")
        box.placeholder = option.placeholder
        effort = self.query_one("#gen-effort", Select).value
        include = self.query_one("#gen-include", RadioSet).pressed_index
        self.check = check_generation(
            mode=self.mode,
            constraint_kind=option.kind,
            constraint_value=box.value,
            reasoning_effort=effort if isinstance(effort, str) and effort else None,
            budget=self.query_one("#gen-budget", Input).value,
            include_reasoning=INCLUDE_CHOICES[include][2] if include >= 0 else None,
            template_kwargs=self.query_one("#gen-kwargs", Input).value,
            current=self.conversation,
            base=self.base,
        )
        shown: dict[str, str] = {}
        for name, message in self.check.errors.items():
            shown.setdefault(_ERROR_IDS[name], message)
        for widget_id in set(_ERROR_IDS.values()):
            error = self.query_one(f"#{widget_id}", Static)
            error.update(Text(inert(shown.get(widget_id, ""))))
            error.display = widget_id in shown
        for name, widget_id in FIELD_IDS.items():
            self.query_one(f"#{widget_id}").set_class(name in self.check.errors, "-invalid")
        return self.check
