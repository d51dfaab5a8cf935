"""The exact request behind a reply: rebuilt, shown with the API key redacted, and
written out as JSON, as a `curl` command or as a Python (openai SDK) script that
run as they are against the same server.

A reply keeps its request without the messages (`RequestRecord`); the messages
are rebuilt here from the conversation with the engine's own builders
(`core.turn_request.default_messages` and `request_messages`, which the engine uses),
never a second copy of them, and
checked against the fingerprint taken when the request was sent. A rebuild
that no longer matches (an earlier message was edited or deleted since, the
system prompt changed, media were left out at the time) says so.

The key never appears: the JSON view shows `Authorization: Bearer [redacted]`,
and the curl command and the script read it from `$OPENAI_API_KEY`. Nor does any
value of the extra headers a gateway wants (`[headers]`, `--header`): the view
shows them redacted, and the copies read them from the environment, from the
variables the settings name (`${GATEWAY_TOKEN}`) or `$VLLM_CHAT_HEADER_<NAME>`.
The routing key (the conversation's id, no secret) is shown and copied as sent.
"""

from __future__ import annotations

import json
import pprint
import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Literal

from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.request_record import messages_digest
from vllm_chat.core.transport import REDACTED, env_references
from vllm_chat.core.turn_request import TurnOptions, default_messages, request_messages

CopyForm = Literal["json", "curl", "python"]
"""How a request can be copied."""

KEY_VARIABLE = "OPENAI_API_KEY"
"""The environment variable the copied command and script read the API key from."""
_HEREDOC = "VLLM_CHAT_REQUEST"


@dataclass(frozen=True)
class ExactRequest:
    """A reply's request, as the SDK was called with it."""

    base_url: str
    """The base URL it went to (credentials never included)."""
    kwargs: dict[str, Any]
    """The keyword arguments of `chat.completions.create` (messages included, `stream` not)."""
    exact: bool
    """Whether the rebuilt messages are the ones sent (their fingerprint matches)."""
    note: str = ""
    """Why it is not exact, when it isn't."""
    needs_key: bool = False
    """The server was given an API key (the copies read it from `$OPENAI_API_KEY`)."""
    headers: dict[str, str] = field(default_factory=dict)
    """The extra headers every request carries, each value as `${VAR}` references
    (`Transport.copy_headers`): never the values themselves."""

    @property
    def url(self) -> str:
        """The chat endpoint."""
        return self.base_url.rstrip("/") + "/chat/completions"

    @property
    def routing(self) -> dict[str, str]:
        """The headers this request carried besides the extra ones: the routing key."""
        sent = self.kwargs.get("extra_headers")
        return {str(k): str(v) for k, v in sent.items()} if isinstance(sent, dict) else {}

    @property
    def variables(self) -> list[str]:
        """The environment variables a copy of the request reads header values from."""
        found = [v for template in self.headers.values() for v in env_references(template)]
        return list(dict.fromkeys(found))

    @property
    def body(self) -> dict[str, Any]:
        """The JSON body the SDK sends: `extra_body` merged in, `stream: true`."""
        kwargs = dict(self.kwargs)
        kwargs.pop("extra_headers", None)
        extra = kwargs.pop("extra_body", None) or {}
        body: dict[str, Any] = {"model": kwargs.pop("model", None), "messages": kwargs.pop("messages", []),
                                "stream": True}
        body.update(kwargs)
        body.update(extra)
        return body


class NoRequest(Exception):
    """The message has no recorded request (a user message, or a reply saved before
    requests were recorded)."""


def exact_request(conv: Conversation, message: Message, *, needs_key: bool = False,
                  headers: dict[str, str] | None = None) -> ExactRequest:
    """The request that produced `message` (an assistant message of `conv`), its
    messages rebuilt from the conversation; `NoRequest` when there is no record.
    `headers`: the extra headers, as copies write them (`Transport.copy_headers`)."""
    headers = dict(headers or {})
    record = message.request
    if record is None:
        raise NoRequest("This reply was saved without its request (only replies from this version on keep it).")
    try:
        messages = _rebuilt_messages(conv, message)
    except Exception as exc:  # noqa: BLE001 - e.g. an attachment that can no longer be read
        kwargs = {"model": record.kwargs.get("model"), "messages": [], **record.kwargs}
        return ExactRequest(record.base_url or conv.base_url, kwargs, False,
                            f"The messages can't be rebuilt ({exc}); the rest is as sent.", needs_key, headers)
    kwargs = {"model": record.kwargs.get("model"), "messages": messages, **record.kwargs}
    exact = messages_digest(messages) == record.messages_sha256
    note = "" if exact else (
        "The conversation changed since this reply was sent (an earlier message or the system prompt was "
        "edited or deleted, or media were left out then): the messages are rebuilt from the conversation "
        "as it is now, not the exact ones.")
    return ExactRequest(record.base_url or conv.base_url, kwargs, exact, note, needs_key, headers)


def _rebuilt_messages(conv: Conversation, message: Message) -> list[dict[str, Any]]:
    record = message.request
    assert record is not None
    ids = [m.id for m in conv.messages]
    if record.upto in ids:
        carried = list(conv.messages[: ids.index(record.upto) + 1])
    else:  # the last message it carried is gone: the ones before the reply are the best guess
        carried = list(conv.messages[: ids.index(message.id)]) if message.id in ids else []
    if record.partial_chars is not None and carried and carried[-1].id == message.id:
        # A continued reply went back as far as it had got, without calls (they never ran).
        carried[-1] = message.model_copy(update={"content": message.content[: record.partial_chars],
                                                 "tool_calls": []})
    view = conv.model_copy(update={"messages": carried})
    return request_messages(default_messages(view, TurnOptions()))


def body_json(request: ExactRequest) -> str:
    """The request body as pretty JSON (what `curl` sends)."""
    return json.dumps(request.body, indent=2, ensure_ascii=False)


def shown(request: ExactRequest) -> str:
    """The request as it went over the wire, for reading: method and URL, headers (the
    API key redacted), then the JSON body."""
    lines = [f"POST {request.url}", "Content-Type: application/json"]
    if request.needs_key:
        lines.append("Authorization: Bearer [redacted]")
    lines += [f"{name}: {REDACTED}" for name in request.headers]
    lines += [f"{name}: {value}" for name, value in request.routing.items()]
    return "\n".join(lines) + "\n\n" + body_json(request)


def as_curl(request: ExactRequest) -> str:
    """A shell command that sends the same request (the key from `$OPENAI_API_KEY`)."""
    lines = _needs(request)
    lines.append(f"curl -sS -N {shlex.quote(request.url)} \\")
    lines.append("  -H 'Content-Type: application/json' \\")
    if request.needs_key:
        lines.append(f'  -H "Authorization: Bearer ${KEY_VARIABLE}" \\')
    for name, template in request.headers.items():
        lines.append(f"  -H {_shell_template(f'{name}: {template}')} \\")
    for name, value in request.routing.items():
        lines.append(f"  -H {shlex.quote(f'{name}: {value}')} \\")
    lines.append(f"  --data-binary @- <<'{_HEREDOC}'")
    # A JSON document never has a line that is only the delimiter: strings can't hold
    # raw newlines, so the here-document is safe for any content.
    lines.append(body_json(request))
    lines.append(_HEREDOC)
    return "\n".join(lines) + "\n"


def as_python(request: ExactRequest) -> str:
    """A Python script that sends the same request with the openai SDK and prints the reply."""
    kwargs = pprint.pformat(request.kwargs, indent=1, width=100, sort_dicts=False)
    key = f'os.environ.get("{KEY_VARIABLE}", "EMPTY")'
    headers = ""
    if request.headers:
        values = ", ".join(f"{name!r}: os.path.expandvars({template!r})" for name, template in request.headers.items())
        headers = f", default_headers={{{values}}}"
    return "\n".join([
        *_needs(request),
        "import os",
        "",
        "from openai import OpenAI",
        "",
        f"client = OpenAI(base_url={request.base_url!r}, api_key={key}{headers})",
        f"request = {kwargs}",
        "stream = client.chat.completions.create(**request, stream=True)",
        "for chunk in stream:",
        "    for choice in chunk.choices:",
        '        print(choice.delta.content or "", end="", flush=True)',
        "print()",
        "",
    ])


def _needs(request: ExactRequest) -> list[str]:
    """The comment lines that say which environment variables a copy reads."""
    lines = [f"# Needs {KEY_VARIABLE} set to the server's API key."] if request.needs_key else []
    if request.variables:
        lines.append(f"# Needs {', '.join(request.variables)} set (the values of the extra headers).")
    return lines


def _shell_template(text: str) -> str:
    """`text` in double quotes for a POSIX shell: its `${VAR}` references expand, nothing
    else does (`$`, backquotes, backslashes and quotes outside them are escaped)."""
    parts = re.split(r"(\$\{[A-Za-z_][A-Za-z0-9_]*\})", text)
    escaped = "".join(p if i % 2 else re.sub(r'([$`"\\])', r"\\\1", p) for i, p in enumerate(parts))
    return f'"{escaped}"'


def copy_text(request: ExactRequest, form: CopyForm) -> str:
    """The request written out as `form`."""
    match form:
        case "json":
            return body_json(request) + "\n"
        case "curl":
            return as_curl(request)
        case "python":
            return as_python(request)
    raise ValueError(f"unknown form {form!r}")
