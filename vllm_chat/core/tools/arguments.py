"""Turning a call's raw `arguments` string into a dict, or into a reason it can't be.

Models send all sorts: valid objects padded with hundreds of spaces, bare
numbers and strings, `Infinity` (vLLM re-serialises `-0e2001…` that way),
truncated JSON, an object encoded twice as a JSON string, or nothing at all.
Each becomes either an arguments dict or a `BadArguments` whose message says
what was wrong, so the model can try again.
"""

from __future__ import annotations

import json
import math
from typing import Any

from vllm_chat.core.tools.schema import json_type, required_properties, show


class BadArguments(Exception):
    """The raw arguments are not a JSON object; the message says why, for the model."""


class _NotANumber(ValueError):
    """`Infinity`, `NaN` or an out-of-range number: Python's json accepts them, JSON does not."""


def _reject_constant(name: str) -> Any:
    raise _NotANumber(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotANumber(f"{text} is too large for a number")
    return value


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)


def parse_arguments(raw: str | None, schema: dict[str, Any]) -> dict[str, Any]:
    """The arguments object of a call, or `BadArguments`.

    An empty string stands for `{}` only when the schema requires nothing:
    otherwise the model most likely lost its arguments, and should hear so.
    """
    text = (raw or "").strip()
    if not text:
        required = required_properties(schema)
        if required:
            names = ", ".join(f"'{n}'" for n in required)
            verb = "is" if len(required) == 1 else "are"
            raise BadArguments(f"the arguments are empty, but {names} {verb} required")
        return {}
    try:
        value = _loads(text)
    except _NotANumber as exc:
        raise BadArguments(f"arguments are not valid JSON ({exc})") from None
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno} column {exc.colno}"
        raise BadArguments(f"arguments are not valid JSON ({exc.msg}: {where})") from None
    except (ValueError, RecursionError) as exc:
        raise BadArguments(f"arguments are not valid JSON ({exc})") from None
    if isinstance(value, str) and value.strip().startswith("{"):
        # Some models encode the object twice; the intent is unambiguous.
        try:
            inner = _loads(value)
        except (ValueError, RecursionError):
            inner = None
        if isinstance(inner, dict):
            value = inner
    if not isinstance(value, dict):
        kind = json_type(value)
        got = "null" if value is None else f"{'an' if kind[0] in 'aeiou' else 'a'} {kind} ({show(value)})"
        raise BadArguments(f"arguments must be a JSON object, got {got}")
    return value
