"""The session-settings form without the drawing: field texts in, `SamplingParams` out.

Every field of the settings panel is typed text. This module turns each text
into a value, or into the message vLLM itself would send back for that value
(`temperature must be in [0, 2], got 5.0.`), so a bad value is caught while it
is typed instead of after a round trip. The ranges are not repeated here:
values are checked by `SamplingParams`, and only the wording of its refusals
is translated, field by field.

Conventions of the form:

- an empty field means "server default" (the field is `None`);
- stop strings come in up to four boxes, one string per box; a blank box is
  unused, and `\\n`, `\\t`, `\\r`, `\\\\` and `\\xHH` stand for newline, tab,
  carriage return, backslash and any other character by its code, so the usual
  "stop at a blank line" can be typed and no control character is ever shown raw.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from vllm_chat.core.params import SamplingParams

if TYPE_CHECKING:  # pragma: no cover
    from vllm_chat.core.generation.form import GenerationChoice

STOP_SLOTS = 4
"""Stop strings the form offers (vLLM refuses more: `VLLM_MAX_STOP_STRINGS=4`)."""


@dataclass(frozen=True)
class NumberField:
    """One numeric field of the form, named after its `SamplingParams` field."""

    name: str
    """The `SamplingParams` field (also the label, as in vLLM's messages and docs)."""
    integer: bool
    """True for whole numbers (`max_tokens`, `top_k`, `seed`), False for floats."""
    accepts: str
    """The accepted values in a few characters, for the placeholder (`0–2`)."""
    help: str
    """What the option does, in one short line."""
    empty: str = "default"
    """What an empty field means (the server's default, or off)."""

    @property
    def placeholder(self) -> str:
        """What an empty field shows: what it means, and the range."""
        return f"{self.empty} · {self.accepts}"


NUMBER_FIELDS: tuple[NumberField, ...] = (
    NumberField("temperature", False, "0–2", "randomness; 0 always picks the likeliest token"),
    NumberField("top_p", False, "(0, 1]", "sample from the smallest set with this much probability"),
    NumberField("top_k", True, "0 = off", "sample from the k likeliest tokens (0 or -1: off)"),
    NumberField("min_p", False, "0–1", "drop tokens below this fraction of the likeliest one"),
    NumberField("max_tokens", True, "≥ 1", "cap on generated tokens (empty: rest of the context)"),
    NumberField("repetition_penalty", False, "> 0", "above 1 discourages repetition; 1 is off"),
    NumberField("presence_penalty", False, "-2–2", "penalise tokens that already appeared"),
    NumberField("frequency_penalty", False, "-2–2", "penalise tokens by how often they appeared"),
    NumberField("seed", True, "integer", "same seed, same settings, same prompt: same reply"),
    NumberField("logprobs", True, "0–20", "each token's probability and this many alternatives "
                "(the reply's confidence view); empty: off", empty="off"),
)
"""The numeric fields, in the order the panel shows them."""

_FIELDS_BY_NAME = {f.name: f for f in NUMBER_FIELDS}

# vLLM's own wording (vllm/sampling_params.py `_verify_args`), one sentence per
# field whichever bound was crossed; the bounds themselves come from SamplingParams.
_RANGE_MESSAGES = {
    "temperature": "temperature must be in [0, 2], got {value}.",
    "top_p": "top_p must be in (0, 1], got {value}.",
    "top_k": "top_k must be 0 (disable), or at least 1, got {value}.",
    "min_p": "min_p must be in [0, 1], got {value}.",
    "max_tokens": "max_tokens must be at least 1, got {value}.",
    "repetition_penalty": "repetition_penalty must be greater than zero, got {value}.",
    "presence_penalty": "presence_penalty must be in [-2, 2], got {value}.",
    "frequency_penalty": "frequency_penalty must be in [-2, 2], got {value}.",
    # vLLM's request model bounds the seed to int64 but lets pydantic word the refusal.
    "seed": "seed must fit in a signed 64-bit integer, got {value}.",
    # vLLM's own refusal above its --max-logprobs (20 by default) names the server limit.
    "logprobs": "logprobs must be 0 to 20 (alternatives per token), got {value}.",
}

_DECIMAL = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_INTEGER = re.compile(r"[+-]?\d+")
_SHOWN_CHARS = 24

Number = int | float
"""A parsed field value: int for whole-number fields, float for the others."""


@dataclass(frozen=True)
class SessionSettingsResult:
    """What the settings panel hands back when the user saves."""

    model: str
    """The model for the next turn ("" lets the server pick its first model)."""
    system_prompt: str
    """The system prompt ("" for none), with surrounding blank space removed."""
    params: SamplingParams
    """The sampling options, already validated with vLLM's ranges."""
    tools_enabled: bool | None
    """This session's tools switch; None keeps following the global setting."""
    generation: GenerationChoice | None = None
    """Mode, constraint and reasoning controls (None: leave them as they are)."""


@dataclass(frozen=True)
class FormCheck:
    """The outcome of checking the whole form."""

    params: SamplingParams | None
    """The sampling options when every field is valid, else None."""
    errors: dict[str, str] = field(default_factory=dict)
    """Field name (`temperature`, ..., `stop`) → the message to show under it."""

    @property
    def ok(self) -> bool:
        """True when nothing is invalid."""
        return not self.errors


def _shown(text: str) -> str:
    """The user's text quoted for a message, cut short if it is long."""
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 1] + "…"
    return repr(text)


def range_message(name: str, value: Number) -> str | None:
    """vLLM's refusal for `value` in field `name`, or None if SamplingParams accepts it."""
    try:
        SamplingParams.model_validate({name: value})
    except ValidationError:
        return _RANGE_MESSAGES[name].format(value=value)
    return None


def parse_number(name: str, text: str) -> tuple[Number | None, str | None]:
    """The value of numeric field `name` typed as `text`, and the message if it is invalid.

    Blank text is `None` (server default). Integers must be written as whole
    numbers (`512`, not `5e2`); floats accept the usual decimal and exponent forms.
    """
    spec = _FIELDS_BY_NAME[name]
    text = text.strip()
    if not text:
        return None, None
    if spec.integer:
        if not _INTEGER.fullmatch(text):
            return None, f"{name} must be an integer, got {_shown(text)}."
        value: Number = int(text)
    else:
        if not _DECIMAL.fullmatch(text):
            if _DECIMAL.fullmatch(text.replace(",", ".", 1)):
                return None, f"{name} must be a number (with a dot for decimals), got {_shown(text)}."
            return None, f"{name} must be a number, got {_shown(text)}."
        value = float(text)
        if not math.isfinite(value):
            return None, f"{name} must be a finite number, got {_shown(text)}."
    message = range_message(name, value)
    return (None, message) if message else (value, None)


def max_tokens_message(max_tokens: int | None, max_model_len: int | None) -> str | None:
    """vLLM's refusal when `max_tokens` exceeds the model's context window, else None."""
    if max_tokens is None or max_model_len is None or max_tokens <= max_model_len:
        return None
    return (f"max_tokens={max_tokens} cannot be greater than max_model_len={max_model_len}. "
            "Please request fewer output tokens.")


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
_NAMED = {v: k for k, v in _ESCAPES.items()}
_ESCAPE_RE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)", re.DOTALL)
# Control characters (C0, DEL, C1) never go raw into a box on screen; the backslash
# is doubled so that what the box shows always decodes back to the same string.
_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\\\\]")


def _decode_escape(match: re.Match[str]) -> str:
    code = match.group(1)
    if len(code) == 3:
        return chr(int(code[1:], 16))
    return _ESCAPES.get(code, match.group(0))


def _encode_char(match: re.Match[str]) -> str:
    char = match.group(0)
    return "\\" + _NAMED[char] if char in _NAMED else f"\\x{ord(char):02x}"


def decode_stop(text: str) -> str:
    """The stop string typed as `text`: `\\n`, `\\t`, `\\r`, `\\\\` and `\\xHH` are
    decoded; any other backslash stays as it is."""
    return _ESCAPE_RE.sub(_decode_escape, text)


def encode_stop(value: str) -> str:
    """How stop string `value` is written in a box (the inverse of `decode_stop`):
    backslashes doubled, control characters written as escapes."""
    return _CONTROL_RE.sub(_encode_char, value)


def stop_message(strings: Sequence[str]) -> str | None:
    """vLLM's refusal for this list of stop strings, or None if it is acceptable."""
    try:
        SamplingParams(stop=list(strings))
    except ValidationError as exc:
        if any(e["type"] == "too_long" for e in exc.errors()):
            return f"stop takes at most {STOP_SLOTS} strings, got {len(strings)}."
        return "stop cannot contain an empty string."
    return None


def parse_stop(texts: Sequence[str]) -> tuple[list[str], str | None]:
    """The stop strings typed in the boxes `texts` (blank boxes skipped), and the
    message if they are invalid."""
    strings = [decode_stop(t) for t in texts if t != ""]
    message = stop_message(strings)
    return ([], message) if message else (strings, None)


def check_form(
    numbers: Mapping[str, str],
    stop: Sequence[str] = (),
    enable_thinking: bool | None = None,
    *,
    max_model_len: int | None = None,
) -> FormCheck:
    """Check every field at once.

    `numbers` maps numeric field names to their text (missing names count as
    blank), `stop` holds the texts of the stop boxes, and `max_model_len` is the
    chosen model's context window when the server said (it bounds `max_tokens`).
    """
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}  # Number | None each; Any: they become SamplingParams' keyword arguments
    for spec in NUMBER_FIELDS:
        value, message = parse_number(spec.name, numbers.get(spec.name, ""))
        if message:
            errors[spec.name] = message
        else:
            values[spec.name] = value
    max_tokens = values.get("max_tokens")
    too_long = max_tokens_message(max_tokens if isinstance(max_tokens, int) else None, max_model_len)
    if too_long:
        errors["max_tokens"] = too_long
    strings, message = parse_stop(stop)
    if message:
        errors["stop"] = message
    if errors:
        return FormCheck(None, errors)
    return FormCheck(SamplingParams(**values, stop=strings, enable_thinking=enable_thinking))


def format_number(value: Number | None) -> str:
    """How a stored value is written in its field ("" for None); parses back to the same value."""
    return "" if value is None else repr(value)


def number_texts(params: SamplingParams) -> dict[str, str]:
    """The text of every numeric field for `params`."""
    return {spec.name: format_number(getattr(params, spec.name)) for spec in NUMBER_FIELDS}


def stop_texts(params: SamplingParams) -> list[str]:
    """The texts of the stop boxes for `params` (always `STOP_SLOTS` of them)."""
    texts = [encode_stop(s) for s in params.stop[:STOP_SLOTS]]
    return texts + [""] * (STOP_SLOTS - len(texts))
