"""vLLM's error bodies, byte for byte: the `{"error": {...}}` envelope, pydantic-style 400s,
the in-stream error event, and FastAPI's `{"detail": ...}` for routing errors."""

from __future__ import annotations

import json
from typing import Any

_UNSET: Any = object()


class SimError(Exception):
    """A request error that becomes vLLM's JSON error response (or an in-stream error event)."""

    def __init__(self, status: int, message: str, type_: str, param: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_
        self.param = param
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        """The JSON body: `{"error": {"message", "type", "param", "code"}}`."""
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.status}}

    def sse_event(self) -> bytes:
        """The same error as an SSE event. vLLM builds it with plain `json.dumps`, so unlike
        every other chunk it has spaces after the separators."""
        return b"data: " + json.dumps(self.body()).encode() + b"\n\n"


def bad_request(message: str, param: str | None = None, value: Any = _UNSET) -> SimError:
    """A `VLLMValidationError`: 400 `BadRequestError`; naming a parameter appends
    ` (parameter=..., value=...)` to the message, as the exception's `__str__` does."""
    if param is not None:
        suffix = f"parameter={param}" if value is _UNSET else f"parameter={param}, value={value}"
        message = f"{message} ({suffix})"
    return SimError(400, message, "BadRequestError", param)


def plain_bad_request(message: str) -> SimError:
    """A `ValueError` raised while handling the request: 400 `BadRequestError`, no param."""
    return SimError(400, message, "BadRequestError", None)


def not_found(message: str, param: str | None = None) -> SimError:
    """404 `NotFoundError` (unknown model)."""
    return SimError(404, message, "NotFoundError", param)


def unknown_model(name: str, valid: list[str]) -> SimError:
    """vLLM's 404 for a model name it does not serve."""
    return not_found(f"The model `{name}` does not exist. Valid aliases: {', '.join(valid)}.", "model")


def internal_error(message: str = "Internal server error") -> SimError:
    """500 `InternalServerError`, as for a generation that failed midway."""
    return SimError(500, message, "InternalServerError", None)


def busy() -> SimError:
    """503 from admission control when the engine queue is full."""
    return SimError(
        503,
        "The engine is currently busy and cannot accept new requests. "
        "Please try again later or on a different instance.",
        "Service Unavailable",
        None,
    )


def router_error(status: int, retry_after: int) -> SimError:
    """What a router or gateway in front of vLLM answers when it will not pass a request on:
    429 (rate limited) or 503 (no backend free), with `Retry-After` in seconds. The body uses
    the OpenAI error envelope, as OpenAI-compatible gateways do."""
    headers = {"Retry-After": str(retry_after)}
    if status == 429:
        return SimError(429, f"Rate limit exceeded: too many requests. Retry after {retry_after} seconds.",
                        "rate_limit_error", None, headers)
    return SimError(503, f"No backend is available to serve the request. Retry after {retry_after} seconds.",
                    "service_unavailable", None, headers)


def _describe_input(value: Any) -> str:
    """How vLLM's validation handler shows an offending input (containers are summarised)."""
    if isinstance(value, dict):
        return f"<dict of {len(value)} items>"
    if isinstance(value, list):
        return f"<list of {len(value)} items>"
    return str(value)


def validation_errors(errors: list[dict[str, Any]]) -> SimError:
    """FastAPI request validation as vLLM reports it: 400, type `Bad Request`, the first
    error's location as `param`, and at most ten errors spelled out in the message."""
    lines = []
    for err in errors[:10]:
        shown: dict[str, Any] = {
            "type": err["type"],
            "loc": ".".join(str(part) for part in ("body", *err["loc"])) if err["loc"] else "body",
            "msg": err["msg"],
            "input": _describe_input(err.get("input")),
        }
        if err.get("ctx"):
            shown["ctx"] = err["ctx"]
        lines.append(str(shown))
    if len(errors) > 10:
        lines.append(f"...and {len(errors) - 10} more errors")
    count = len(errors)
    message = f"{count} validation error{'s' if count != 1 else ''}:\n  " + "\n  ".join(lines)
    first_loc = errors[0]["loc"]
    param = ".".join(str(p) for p in ("body", *first_loc)) if first_loc else "body"
    return SimError(400, message, "Bad Request", param)


def unsupported_media_type() -> SimError:
    """The 400 for a body sent without `Content-Type: application/json`."""
    return SimError(
        400, "1 validation error:\n  Unsupported Media Type: Only 'application/json' is allowed", "Bad Request", None
    )


def json_decode_error(exc: json.JSONDecodeError) -> SimError:
    """The 400 for a body that is not valid JSON (`loc` is the character offset)."""
    return validation_errors(
        [{
            "type": "json_invalid",
            "loc": (exc.pos,),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": exc.msg},
        }]
    )


def dumps(body: Any) -> bytes:
    """Compact UTF-8 JSON, as Starlette's `JSONResponse` writes it."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
