"""Reading the raw captures of a real vLLM 0.32 server and reducing responses to their structure.

A capture is `NAME.http` (what `curl -sS -N -i` printed) plus `NAME.request.json`
(the body sent). `structure()` turns a response (captured or live) into what
must agree between the real and the simulated server: status, content type,
the sequence of event kinds, and the key sets of every kind of chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.paths import captures_dir
from vllm_chat.simserver import SimConfig

CAPTURES = captures_dir()

# The real server the captures come from, as a simulator configuration: one model, a 2048-token
# window, text only, auto tool choice, and `</think>` always a token of its own.
CAPTURED_SERVER = SimConfig(
    models=("tiny-llama",),
    max_model_len=2048,
    multimodal_models=(),
    null_content_transition=False,
)

# How each capture was requested (see shared/vllm-real/capture.py): method, path, headers.
# Anything not listed was a POST to /v1/chat/completions with a JSON body.
_ROUTES: dict[str, tuple[str, str]] = {
    "01": ("GET", "/v1/models"),
    "02": ("GET", "/health"),
    "03": ("GET", "/version"),
    "30": ("POST", "/tokenize"),
    "31": ("POST", "/tokenize"),
    "32": ("POST", "/tokenize"),
    "33": ("POST", "/detokenize"),
    "34": ("POST", "/v1/chat/completions/render"),
    "35": ("POST", "/tokenize"),
    "58": ("POST", "/v1/chat/completion"),
    "60": ("GET", "/v1/chat/completions"),
    "62": ("POST", "/v1/completions"),
    "6d": ("POST", "/v1/completions"),
    "83": ("GET", "/v1/models"),
    "84": ("GET", "/health"),
    "86": ("POST", "/tokenize"),
}
# round2 was captured with curl from three servers (see its INDEX.md): `tiny-llama` with
# `--api-key real-key` (01-10, 15), `tiny-base` without a key (11-14), and a per-request-metrics
# server without a key (16, 17).
_ROUND2_ROUTES: dict[str, tuple[str, str]] = {
    "09": ("POST", "/tokenize"),
    "10": ("POST", "/v1/load_lora_adapter"),
    "12": ("POST", "/v1/completions"),
    "13": ("POST", "/tokenize"),
    "14": ("POST", "/tokenize"),
    "15": ("GET", "/metrics"),
}
_ROUND2_KEYED = {"01", "02", "03", "04", "05", "06", "07", "08", "09", "10"}
_AUTH: dict[str, str | None] = {
    "80": None, "81": "wrong", "82": "wrong", "83": "wrong", "84": None, "85": "secret", "86": None, "87": None,
}


@dataclass
class Capture:
    """One recorded exchange."""

    set_name: str
    """The folder: `main`, `auth`, `reasoning_qwen3`..."""
    name: str
    """The file name without extension, e.g. `10_chat_stream_usage`."""
    method: str
    """HTTP method of the request."""
    path: str
    """Request path."""
    headers: dict[str, str]
    """Request headers that mattered (content type, auth)."""
    body: bytes | None
    """Request body, as sent."""
    status: int
    """Captured status code."""
    response_headers: dict[str, str]
    """Captured response headers, lower-cased."""
    response_body: bytes
    """Captured response body, byte for byte."""

    @property
    def id(self) -> str:
        """`set/name`, for test ids."""
        return f"{self.set_name}/{self.name}"


def available() -> bool:
    """Whether the captures folder is there."""
    return (CAPTURES / "INDEX.md").is_file()


def load_all() -> list[Capture]:
    """Every capture, in set and name order."""
    out = []
    for http_file in sorted(CAPTURES.glob("*/*.http")):
        out.append(_load(http_file))
    return out


def _load(http_file: Path) -> Capture:
    name = http_file.stem
    prefix = name[:2]
    set_name = http_file.parent.name
    routes = _ROUND2_ROUTES if set_name == "round2" else _ROUTES
    method, path = routes.get(prefix, ("POST", "/v1/chat/completions"))
    request_file = http_file.with_name(name + ".request.json")
    body = request_file.read_bytes() if request_file.exists() else None
    headers: dict[str, str] = {}
    if body is not None:
        headers["Content-Type"] = "text/plain" if prefix == "61" else "application/json"
    if set_name == "auth":
        key = _AUTH.get(prefix)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        if prefix == "87":
            headers["x-api-key"] = "secret"
    if set_name == "round2" and prefix in _ROUND2_KEYED:
        headers["Authorization"] = "Bearer real-key"
    status, response_headers, response_body = parse_http(http_file.read_bytes())
    return Capture(set_name, name, method, path, headers, body, status, response_headers, response_body)


def parse_http(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    """Status, lower-cased headers and body of `curl -i` output."""
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        key, _, value = line.partition(":")
        headers[key.strip().lower()] = value.strip()
    return status, headers, body


def sse_events(body: bytes) -> list[Any]:
    """The `data:` payloads of an SSE body: parsed JSON, or the string `[DONE]`."""
    events: list[Any] = []
    for block in body.decode("utf-8", errors="replace").split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                payload = line[len("data: "):]
                events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def shape(value: Any) -> Any:
    """The structure of a JSON value: objects keep their keys, lists the set of element shapes,
    every scalar (string, number, bool, null) is just `scalar`."""
    if isinstance(value, dict):
        return ("object", tuple(sorted((k, shape(v)) for k, v in value.items())))
    if isinstance(value, list):
        return ("list", tuple(sorted({repr(shape(v)) for v in value})))
    return "scalar"


def event_kind(event: Any) -> str:
    """What an SSE event is: role, content, reasoning, tool_name, tool_args, finish, usage, error, done..."""
    if event == "[DONE]":
        return "done"
    if "error" in event:
        return "error"
    choices = event.get("choices")
    if choices == []:
        return "usage"
    choice = choices[0]
    if choice.get("finish_reason") is not None:
        return "finish"
    if "text" in choice:
        return "text"
    delta = choice.get("delta", {})
    if "role" in delta:
        return "role"
    if delta.get("tool_calls"):
        return "tool_name" if any("id" in t for t in delta["tool_calls"]) else "tool_args"
    if "reasoning" in delta or "reasoning_content" in delta:
        return "reasoning_end" if delta.get("content", "") is None else (
            "reasoning" if delta.get("reasoning", delta.get("reasoning_content")) is not None else "content"
        )
    if "content" in delta:
        return "content"
    return "other"


def collapse(kinds: list[str]) -> list[str]:
    """Runs of one kind become one entry, and further tool calls of the same turn fold into the
    first (one call or three, the structure is the same)."""
    out: list[str] = []
    for kind in kinds:
        if out and out[-1] == kind:
            continue
        if kind == "tool_name" and out[-2:] == ["tool_name", "tool_args"]:
            continue
        out.append(kind)
    return out


@dataclass
class Structure:
    """What must match between a real and a simulated response."""

    status: int
    """Status code."""
    content_type: str
    """`content-type` header."""
    sequence: list[str] = field(default_factory=list)
    """Collapsed event kinds (streams only)."""
    shapes: dict[str, set[str]] = field(default_factory=dict)
    """For each event kind (or `body` for JSON), the shapes seen."""
    finish_deltas: set[str] = field(default_factory=set)
    """Key sets of the deltas finish chunks carried (empty, or a piece's keys)."""


def structure(status: int, headers: dict[str, str], body: bytes) -> Structure:
    """Reduce one response to its `Structure`."""
    content_type = headers.get("content-type", "")
    result = Structure(status, content_type)
    if content_type.startswith("text/event-stream"):
        events = sse_events(body)
        kinds = [event_kind(e) for e in events]
        result.sequence = collapse(kinds)
        for event, kind in zip(events, kinds, strict=True):
            if event == "[DONE]":
                continue
            if kind == "finish":
                choice = event["choices"][0]
                result.finish_deltas.add(",".join(sorted(choice.get("delta", {}))))
                event = {**event, "choices": [{**choice, "delta": {}}]}
            result.shapes.setdefault(kind, set()).add(repr(shape(event)))
    elif content_type.startswith("text/plain; version="):
        result.shapes["metrics"] = prometheus_shape(body.decode())
    elif content_type.startswith("application/json") and body.strip():
        result.shapes["body"] = {repr(shape(json.loads(body)))}
    elif body.strip():
        result.shapes["text"] = {"text"}
    return result


def prometheus_shape(text: str) -> set[str]:
    """The structure of vLLM's own series in a Prometheus exposition: every `# HELP` and `# TYPE`
    line of a `vllm:` family, and every sample's name with its label names (values differ)."""
    out = set()
    for line in text.splitlines():
        if line.startswith(("# HELP vllm:", "# TYPE vllm:")):
            out.add(line)
        elif line.startswith("vllm:"):
            name, _, rest = line.partition("{")
            labels = sorted(part.split("=", 1)[0] for part in _label_pairs(rest.rpartition("}")[0]))
            out.add(f"{name}{{{','.join(labels)}}}")
    return out


def _label_pairs(inside: str) -> list[str]:
    """`a="x",b="y,z"` split at the commas between pairs (not those inside quoted values)."""
    pairs, current, quoted = [], "", False
    for ch in inside:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            pairs.append(current)
            current = ""
        else:
            current += ch
    if current:
        pairs.append(current)
    return pairs
