"""The conversation: the one source of truth for everything said in a session.

Widgets render from these models and the store saves them; nothing else keeps
text. Messages are kept in OpenAI shape plus the metadata a chat client needs
(reasoning, usage, timings, status, attachment references), and
`Conversation.to_openai()` turns them into the `messages` list of a request.

A conversation is a tree: a regenerated reply or an edited prompt keeps the
earlier versions as alternatives of the same message. `Conversation.messages`
is the branch shown (and sent); `aside` holds the messages of the other
branches, `forks` records at each point with alternatives their order and
which one is chosen, and `removed` keeps deleted messages. `core/tree.py`
holds the operations on the tree.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from typing import Any, Literal, cast

from pydantic import BaseModel, Field, PrivateAttr

from vllm_chat.core.errors import ChatError, ErrorKind
from vllm_chat.core.generation.check import ReplyCheck
from vllm_chat.core.generation.constraint import Constraint
from vllm_chat.core.generation.reasoning import ReasoningControls
from vllm_chat.core.logprobs import TokenLogprobs
from vllm_chat.core.params import SamplingParams
from vllm_chat.core.request_record import RequestRecord, ServerTimings

Role = Literal["system", "user", "assistant", "tool"]
MessageStatus = Literal["complete", "streaming", "stopped", "failed"]
ToolStatus = Literal["ok", "error", "denied"]
AttachmentKind = Literal["image", "video", "audio"]
ConversationKind = Literal["chat", "completion"]


def new_id() -> str:
    """A short random id for messages and sessions (32 hex digits of a uuid4)."""
    return uuid.uuid4().hex


class Usage(BaseModel):
    """Token counts the server reported for one reply (or summed for a session)."""

    prompt_tokens: int = 0
    """Tokens in the prompt, chat template included."""
    completion_tokens: int = 0
    """Tokens generated, reasoning included."""
    reasoning_tokens: int | None = None
    """Of `completion_tokens`, how many were reasoning (only with a reasoning parser)."""

    def __add__(self, other: Usage) -> Usage:
        reasoning = None
        if self.reasoning_tokens is not None or other.reasoning_tokens is not None:
            reasoning = (self.reasoning_tokens or 0) + (other.reasoning_tokens or 0)
        return Usage(
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            reasoning_tokens=reasoning,
        )


class Timings(BaseModel):
    """How one reply went in time, measured on the client."""

    started_at: float
    """Wall-clock time (epoch seconds) when the request was sent."""
    ttft: float | None = None
    """Seconds from sending the request to the first reasoning or content token."""
    duration: float | None = None
    """Seconds from sending the request to the end of the stream."""

    def tokens_per_second(self, completion_tokens: int) -> float | None:
        """Generation speed after the first token, or None if it can't be known.

        None too for replies too short to measure (under 8 tokens, or under a quarter
        of a second after the first token): their chunks often arrive in one burst,
        and a figure like "1889.5 tok/s" for 2 tokens says nothing."""
        if self.duration is None or self.ttft is None or completion_tokens < 8:
            return None
        span = self.duration - self.ttft
        return (completion_tokens - 1) / span if span >= 0.25 else None


class Failure(BaseModel):
    """Why a reply failed, saved with it so a reloaded conversation explains the failure
    (and offers the same steps) as it was explained when it happened."""

    kind: str
    """The `ChatError` kind (`connection`, `context_length`, ...)."""
    message: str
    """What happened."""
    hint: str = ""
    """What to do about it (steps as `{binding-id}`, see `core.errors.render_hint`)."""
    status: int | None = None
    """The HTTP status, when there was one."""
    retryable: bool = False
    """Whether sending the turn again may work."""
    details: dict[str, Any] = Field(default_factory=dict)
    """Facts the explanation rests on (`max_model_len`, `models`, ...)."""

    @classmethod
    def of(cls, error: ChatError) -> Failure:
        """The record of `error`."""
        return cls(kind=error.kind, message=error.message, hint=error.hint, status=error.status,
                   retryable=error.retryable, details=dict(error.details))

    def as_error(self) -> ChatError:
        """The `ChatError` this record was made from."""
        return ChatError(cast(ErrorKind, self.kind), self.message, self.hint, status=self.status,
                         retryable=self.retryable, details=dict(self.details))


class ToolCall(BaseModel):
    """One function call the model asked for, as it arrived (arguments stay a raw string)."""

    id: str
    """The call id (vLLM: `chatcmpl-tool-<16 hex>`); tool results refer to it."""
    name: str
    """The function name the model chose (may name no known tool)."""
    arguments: str = ""
    """The arguments exactly as streamed: usually a JSON object, but not always."""

    def to_openai(self) -> dict[str, Any]:
        """The call as an entry of an assistant message's `tool_calls`."""
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


class Attachment(BaseModel):
    """A file or URL attached to a user message, kept by reference.

    Local files are copied once into the data folder under their content hash
    (`ref`); URLs are kept as they are (`url`).
    """

    kind: AttachmentKind
    """What the server will receive it as: `image_url`, `video_url` or `audio_url`."""
    name: str
    """A display name: the original file name, or the last part of the URL."""
    mime: str | None = None
    """The MIME type sniffed from the content (None for URLs we did not fetch)."""
    size: int | None = None
    """Bytes of the (possibly downscaled) content that is sent."""
    width: int | None = None
    """Pixel width of an image, after any downscaling."""
    height: int | None = None
    """Pixel height of an image, after any downscaling."""
    ref: str | None = None
    """File name inside the media folder (`<sha256>.<ext>`) for local files."""
    url: str | None = None
    """The http(s) or data URL for attachments that were given as a URL."""


class ContextFile(BaseModel):
    """A text file the user mentioned (`@path`): sent with their message, after its text."""

    path: str
    """The file, relative to the folder vllm-chat was started in."""
    text: str
    """Its text as sent (the start only, when `truncated`)."""
    size: int
    """The file's size in bytes when it was read."""
    truncated: bool = False
    """Only the start was sent: the file is larger than the mention size limit."""

    def as_block(self) -> str:
        """The file as the model reads it: its path, then its text in a fence longer than any
        run of backticks inside, and a note when it was cut."""
        longest = max((len(run) for run in re.findall(r"`+", self.text)), default=0)
        fence = "`" * max(3, longest + 1)
        note = (f"\n[only the first {len(self.text.encode())} of {self.size} bytes of {self.path}]"
                if self.truncated else "")
        body = self.text[:-1] if self.text.endswith("\n") else self.text  # the fence ends the line
        return f"{self.path}:\n{fence}\n{body}\n{fence}{note}"


class Message(BaseModel):
    """One message of a conversation, in OpenAI shape plus client metadata."""

    id: str = Field(default_factory=new_id)
    """Stable id, so widgets and branches can refer to a message."""
    role: Role
    """Who speaks: system, user, assistant or tool."""
    content: str = ""
    """The text. For assistant messages this is the answer, without reasoning."""
    reasoning: str | None = None
    """Reasoning the server sent separately (`reasoning` / `reasoning_content`)."""
    attachments: list[Attachment] = Field(default_factory=list)
    """Media attached to a user message, or images a tool returned (in its result)."""
    files: list[ContextFile] = Field(default_factory=list)
    """Text files the user mentioned (`@path`), sent after the message's text."""
    tool_calls: list[ToolCall] = Field(default_factory=list)
    """Calls an assistant message asked for."""
    tool_call_id: str | None = None
    """For a tool result: the id of the call it answers."""
    name: str | None = None
    """For a tool result: the tool's name (shown in panels; not sent to the server)."""
    tool_status: ToolStatus | None = None
    """For a tool result: whether the tool ran (`ok`), failed (`error`) or was denied."""
    status: MessageStatus = "complete"
    """complete, streaming (still arriving), stopped (by the user) or failed."""
    error: str | None = None
    """For a failed or truncated reply: what went wrong, in words."""
    failure: Failure | None = None
    """For a failed reply: the whole explanation (kind, hint), as it was shown live."""
    finish_reason: str | None = None
    """The server's finish_reason (`stop`, `length`, `tool_calls`, `abort`, ...)."""
    model: str | None = None
    """The model that wrote an assistant message."""
    usage: Usage | None = None
    """Tokens for the request that produced this assistant message."""
    timings: Timings | None = None
    """Client-side timings for the request that produced this assistant message."""
    server_metrics: ServerTimings | None = None
    """vLLM's own timings of that request (servers with `--enable-per-request-metrics`)."""
    logprobs: TokenLogprobs | None = None
    """Each token's logprob and likeliest alternatives, packed (when the request asked)."""
    request: RequestRecord | None = None
    """The request that produced this assistant message, without its messages."""
    created_at: float = Field(default_factory=time.time)
    """Epoch seconds when the message was created."""
    parent_id: str | None = None
    """The message this one follows in the conversation tree (None: it is a first
    message). Alternatives of a message share its parent. Kept up to date for the
    shown messages by `tree.link` (the store calls it before every save)."""
    check: ReplyCheck | None = None
    """For a reply whose request carried a structured-output constraint: whether it matches."""
    reasoning_controls: ReasoningControls | None = None
    """For a reply: the reasoning controls its request carried (None: none were set)."""
    reply_limit: int | None = None
    """For a reply: the tokens it could get at most because the prompt left no more room in
    the context window (`max_tokens` was lowered to this); None when it was not lowered."""
    compaction_id: str | None = None
    """This message stands for earlier messages that a compaction replaced: the id of the
    `Compaction` (in `Conversation.compactions`) that keeps them. A summary has the summary as
    its text; a message with no text marks turns that were left out without a summary."""

    @property
    def is_summary(self) -> bool:
        """Whether this message is a compaction's summary of earlier messages."""
        return self.compaction_id is not None and bool(self.content)

    @property
    def text_for_model(self) -> str:
        """The text the model reads: the message, then each mentioned file as a block."""
        if not self.files:
            return self.content
        return "\n\n".join([self.content, *(f.as_block() for f in self.files)])

    @property
    def was_cut(self) -> bool:
        """A reply that ended before its end: stopped, failed, or cut at max_tokens."""
        return self.role == "assistant" and (
            self.status in ("stopped", "failed") or self.finish_reason == "length")

    def failed_with(self) -> ChatError | None:
        """Why this reply's turn failed, or None if it didn't (a turn can fail after a
        complete reply: the tool-round limit). Conversations saved before failures were
        recorded whole only kept the text; they come back as a stream error."""
        if self.failure is not None:
            return self.failure.as_error()
        if self.status == "failed" and self.error:
            return ChatError("stream_error", self.error)
        return None

    def to_openai(
        self, part_for: Callable[[Attachment], dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """This message as one entry of a chat request's `messages`.

        `part_for` turns an attachment into a content part (see
        `core.attachments.content_part`); it is needed only when the message
        has attachments.
        """
        if self.role == "tool":
            content: Any = self.content
            if self.attachments and part_for is not None:  # images an MCP tool returned
                content = [{"type": "text", "text": self.content}, *(part_for(a) for a in self.attachments)]
            return {"role": "tool", "tool_call_id": self.tool_call_id, "content": content}
        out: dict[str, Any] = {"role": self.role}
        text = self.text_for_model
        if self.attachments:
            if part_for is None:
                raise ValueError("a message with attachments needs a part builder")
            parts: list[dict[str, Any]] = []
            if text:
                parts.append({"type": "text", "text": text})
            parts.extend(part_for(a) for a in self.attachments)
            out["content"] = parts
        elif self.role == "assistant" and self.tool_calls and not self.content:
            out["content"] = None
        else:
            out["content"] = text
        if self.tool_calls:
            out["tool_calls"] = [c.to_openai() for c in self.tool_calls]
        return out


class Fork(BaseModel):
    """A point of the conversation with alternatives: several versions of what follows one message."""

    after: str | None
    """Id of the message the alternatives follow (None: alternatives of the first message)."""
    options: list[str]
    """Ids of the alternatives, oldest first (version 1, 2, ...)."""
    chosen: str
    """The alternative shown when `after` is shown, or the one shown last (the branch
    below an alternative is remembered the same way, fork by fork)."""


class Origin(BaseModel):
    """Where a forked conversation came from."""

    session_id: str
    """The session it was forked from."""
    message_id: str | None
    """The last message it kept (None: none was kept)."""
    messages: int
    """How many messages of the original's shown branch it kept."""
    title: str = ""
    """The original's title at the time."""
    reason: Literal["fork", "conflict"] = "fork"
    """`fork`: the user asked for it; `conflict`: saving found the file changed in a way
    that can't be merged, so this version was saved on its own."""
    created_at: float = Field(default_factory=time.time)
    """When the fork was made."""


CompactionKind = Literal["summary", "dropped"]


class Compaction(BaseModel):
    """Messages taken out of the conversation to make room, kept so nothing is lost: either
    summarised by the model into one message, or left out (the oldest turns) without one."""

    id: str = Field(default_factory=new_id)
    """Id of the compaction; the message that stands for it has it as `compaction_id`."""
    kind: CompactionKind = "summary"
    """`summary`: the model summarised them; `dropped`: the oldest turns were left out."""
    messages: list[Message]
    """The messages taken out, in order (summaries of earlier compactions included)."""
    tokens_before: int | None = None
    """Prompt tokens of the conversation before (None when not known)."""
    tokens_after: int | None = None
    """Prompt tokens of the conversation after (None when not known)."""
    exact: bool = False
    """Whether both token figures are the server's own counts (else estimates)."""
    model: str | None = None
    """The model that wrote the summary."""
    created_at: float = Field(default_factory=time.time)
    """When the messages were taken out."""


SUMMARY_HEADING = "Summary of the earlier conversation (older messages were compacted to save context):"
"""How a summary starts when it is sent to the model, so the model reads it as what it is."""


class Conversation(BaseModel):
    """A whole session: metadata plus messages. Saved as one JSON file by the store."""

    id: str = Field(default_factory=new_id)
    """Session id; also the file name in the sessions folder."""
    title: str = ""
    """A short title, from the first prompt (or asked of the model)."""
    created_at: float = Field(default_factory=time.time)
    """Epoch seconds when the session started."""
    updated_at: float = Field(default_factory=time.time)
    """Epoch seconds of the last change."""
    base_url: str = ""
    """The server it talked to (never the API key)."""
    model: str = ""
    """The model for the next turn."""
    system_prompt: str = ""
    """The system prompt sent before the messages (empty: none)."""
    params: SamplingParams = Field(default_factory=SamplingParams)
    """Sampling options for the next turn."""
    tools_enabled: bool | None = None
    """Per-session override of the global tools switch (None: follow the config)."""
    kind: ConversationKind = "chat"
    """`chat`, or `completion`: the conversation is one document a base model continues
    (`/v1/completions`, see `core.generation.completion`)."""
    constraint: Constraint | None = None
    """The structured-output constraint every reply must match (None: free text)."""
    reasoning_controls: ReasoningControls = Field(default_factory=ReasoningControls)
    """reasoning_effort, thinking_token_budget, include_reasoning, chat_template_kwargs."""
    messages: list[Message] = Field(default_factory=list)
    """The branch shown (and sent), oldest first, without the system prompt."""
    aside: list[Message] = Field(default_factory=list)
    """The messages of every other branch (earlier versions of a reply or prompt,
    another window's messages after a merge); each one's `parent_id` says where it hangs."""
    forks: list[Fork] = Field(default_factory=list)
    """The points with alternatives: their order and which one is chosen."""
    removed: list[Message] = Field(default_factory=list)
    """Deleted messages, kept in the file (`parent_id`: where they were)."""
    origin: Origin | None = None
    """Where this conversation was forked from (None: it was started here)."""
    compactions: list[Compaction] = Field(default_factory=list)
    """Messages that compactions took out (summarised or left out), oldest first."""
    _disk: Any = PrivateAttr(default=None)
    # What the store last read or wrote for this conversation (`store.DiskState`): the
    # base a save compares the file with. Never saved; None for a conversation not on disk.

    def __eq__(self, other: object) -> bool:
        """Equal when every field is (what the store last saw of it, `_disk`, doesn't count)."""
        if not isinstance(other, Conversation):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in type(self).model_fields)

    __hash__ = None  # type: ignore[assignment]  # mutable, like every pydantic model

    def compaction(self, compaction_id: str) -> Compaction | None:
        """The compaction with this id, if the conversation has it."""
        return next((c for c in self.compactions if c.id == compaction_id), None)

    @property
    def usage_total(self) -> Usage:
        """Token usage summed over every assistant message."""
        total = Usage()
        for m in self.messages:
            if m.usage is not None:
                total = total + m.usage
        return total

    def touch(self) -> None:
        """Mark the conversation as changed now."""
        self.updated_at = time.time()

    def add(self, message: Message) -> Message:
        """Append a message and return it."""
        self.messages.append(message)
        self.touch()
        return message

    def to_openai(
        self, part_for: Callable[[Attachment], dict[str, Any]] | None = None
    ) -> list[dict[str, Any]]:
        """The `messages` list for a chat request: system prompt first, then every message.

        Failed assistant messages with nothing in them are left out: they carry
        no information and some chat templates refuse an empty assistant turn.
        So is the mark of turns left out without a summary. A compaction's summary
        is sent as a user message; when a user message follows it, the two are sent
        as one, because some chat templates refuse two user messages in a row.
        """
        out: list[dict[str, Any]] = []
        if self.system_prompt:
            out.append({"role": "system", "content": self.system_prompt})
        summary_at: int | None = None
        for m in self.messages:
            if m.role == "assistant" and not m.content and not m.tool_calls:
                continue
            if m.compaction_id is not None and not m.content:
                continue
            entry = m.to_openai(part_for)
            if summary_at is not None and summary_at == len(out) - 1 and entry["role"] == "user":
                out[-1] = _joined(out[-1], entry)
                summary_at = None
                continue
            if m.is_summary:
                entry = {"role": "user", "content": f"{SUMMARY_HEADING}\n\n{m.content}"}
                summary_at = len(out)
            out.append(entry)
        return out


def _joined(summary: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
    """A summary and the user message after it, as one user message (summary first)."""
    content = user.get("content")
    if isinstance(content, list):
        return {**user, "content": [{"type": "text", "text": summary["content"] + "\n\n"}, *content]}
    return {**user, "content": f"{summary['content']}\n\n{content or ''}"}
