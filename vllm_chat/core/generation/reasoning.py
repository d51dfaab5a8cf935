"""Reasoning controls: how much a reasoning model thinks, and what its chat template is told.

vLLM reads `reasoning_effort` (0.32 accepts none, minimal, low, medium, high,
xhigh and max; it also switches `chat_template_kwargs.enable_thinking` unless
that is given), `thinking_token_budget` (a cap on reasoning tokens; only with
a reasoning parser, else 400), `include_reasoning` (false leaves the reasoning
out of the reply) and `chat_template_kwargs` (template variables, free-form).
All are extras, sent in the request body; none is sent unless set.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh", "max")
"""The `reasoning_effort` values vLLM 0.32 accepts (another server's 400 names its own list)."""

_EFFORT_CHARS = 32


class ReasoningControls(BaseModel):
    """Per-conversation reasoning controls; None (or empty) leaves each to the server and template."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    reasoning_effort: str | None = None
    """`reasoning_effort`: none, minimal, low, medium, high, xhigh, max (any other word is
    sent as it is, for servers that accept more; vLLM's 400 then names what it accepts)."""
    thinking_token_budget: int | None = Field(default=None, ge=0)
    """`thinking_token_budget`: most reasoning tokens before the model must answer."""
    include_reasoning: bool | None = None
    """`include_reasoning`: false asks the server to leave the reasoning out of the reply."""
    chat_template_kwargs: dict[str, Any] = Field(default_factory=dict)
    """`chat_template_kwargs`: variables for the chat template (`{"enable_thinking": false}`)."""

    @field_validator("reasoning_effort")
    @classmethod
    def _one_word(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip()
        if not value:
            return None
        if len(value) > _EFFORT_CHARS or not value.replace("-", "").replace("_", "").isalnum():
            raise ValueError(f"reasoning_effort is one word ({', '.join(REASONING_EFFORTS)}), got {value!r}")
        return value

    @property
    def is_set(self) -> bool:
        """Whether any control is set (else requests carry none of them)."""
        return (self.reasoning_effort is not None or self.thinking_token_budget is not None
                or self.include_reasoning is not None or bool(self.chat_template_kwargs))

    def body_fields(self, enable_thinking: bool | None = None) -> dict[str, Any]:
        """The chat request body fields; `enable_thinking` (the sampling switch) joins
        `chat_template_kwargs` unless the table sets it itself."""
        out: dict[str, Any] = {}
        if self.reasoning_effort is not None:
            out["reasoning_effort"] = self.reasoning_effort
        if self.thinking_token_budget is not None:
            out["thinking_token_budget"] = self.thinking_token_budget
        if self.include_reasoning is not None:
            out["include_reasoning"] = self.include_reasoning
        kwargs: dict[str, Any] = {}
        if enable_thinking is not None:
            kwargs["enable_thinking"] = enable_thinking
        kwargs.update(self.chat_template_kwargs)
        if kwargs:
            out["chat_template_kwargs"] = kwargs
        return out

    def summary(self) -> str:
        """The controls that are set, for a reply's footer (`effort low · budget 512`)."""
        parts = []
        if self.reasoning_effort is not None:
            parts.append(f"effort {self.reasoning_effort}")
        if self.thinking_token_budget is not None:
            parts.append(f"budget {self.thinking_token_budget}")
        if self.include_reasoning is False:
            parts.append("reasoning omitted")
        elif self.include_reasoning:
            parts.append("reasoning included")
        if self.chat_template_kwargs:
            shown = ", ".join(f"{k}={_value(v)}" for k, v in self.chat_template_kwargs.items())
            parts.append(f"template {shown}")
        return " · ".join(parts)


def _value(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 24 else text[:23] + "…"


class TemplateKwargsError(ValueError):
    """The `chat_template_kwargs` text is not a table; the message says how to write it."""


def parse_template_kwargs(text: str) -> dict[str, Any]:
    """`chat_template_kwargs` from what a user typed: a JSON object, or `key=value` pairs
    separated by commas or new lines (each value read as JSON when it is JSON, `true`,
    `42`, else kept as text). Empty text is an empty table."""
    text = text.strip()
    out = _parse_table(text)
    reserved = [k for k in ("add_generation_prompt", "continue_final_message") if k in out]
    if reserved:
        raise TemplateKwargsError(f"chat_template_kwargs can't set {', '.join(reserved)}: vllm-chat sends "
                                  "them itself (continue a reply to use continue_final_message).")
    return out


def _parse_table(text: str) -> dict[str, Any]:
    import json

    if not text:
        return {}
    if text.startswith("{"):
        try:
            doc = json.loads(text)
        except json.JSONDecodeError as exc:
            raise TemplateKwargsError(f"chat_template_kwargs is not valid JSON: {exc.msg} "
                                      f"at column {exc.colno}.") from None
        if not isinstance(doc, dict):
            raise TemplateKwargsError("chat_template_kwargs must be a JSON object.")
        return doc
    out: dict[str, Any] = {}
    for item in text.replace("\n", ",").split(","):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise TemplateKwargsError(f"chat_template_kwargs: write key=value, got {item.strip()!r} "
                                      "(or give a JSON object).")
        raw = raw.strip()
        try:
            out[key] = json.loads(raw)
        except json.JSONDecodeError:
            out[key] = raw
    return out


def format_template_kwargs(kwargs: dict[str, Any]) -> str:
    """How a table is written back into a one-line box (parses back to the same table)."""
    import json

    if not kwargs:
        return ""
    simple = all(isinstance(v, (bool, int, float)) or (isinstance(v, str) and _plain(v)) for v in kwargs.values())
    if simple and all(_plain(k) for k in kwargs):
        return ", ".join(f"{k}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in kwargs.items())
    return json.dumps(kwargs, ensure_ascii=False)


def _plain(text: str) -> bool:
    """Text that survives `key=value` parsing as itself (no separators, not JSON-looking)."""
    import json

    if not text or text != text.strip() or any(c in text for c in ",=\n{"):
        return False
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return True
    return False
