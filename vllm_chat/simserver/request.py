"""The typed fields of a chat request, and the validated request the script and stream use."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vllm_chat.simserver.config import SimConfig
from vllm_chat.simserver.constraints import Constraint, StructuredOutputs
from vllm_chat.simserver.errors import SimError
from vllm_chat.simserver.faults import Fault
from vllm_chat.simserver.media import MediaItem, message_text

ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh", "max"]


class ChatFields(BaseModel):
    """The typed fields of vLLM's `ChatCompletionRequest`, in its order, with its types and defaults,
    so a wrong type fails with the same pydantic error; what each field means is vLLM's documentation.
    Unknown fields are allowed (and ignored), as in vLLM; `sim_fault` is the simulator's own."""

    model_config = ConfigDict(extra="allow")

    messages: list[Any]
    model: str | None = None
    frequency_penalty: float | None = None
    logit_bias: dict[str, float] | None = None
    logprobs: bool | None = False
    top_logprobs: int | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    n: int | None = 1
    presence_penalty: float | None = None
    response_format: dict[str, Any] | None = None
    seed: int | None = None
    stop: str | Annotated[list[str], Field(max_length=4)] | None = None
    stream: bool | None = False
    stream_options: dict[str, Any] | None = None
    temperature: float | None = None
    top_p: float | None = None
    tools: list[Any] | None = None
    tool_choice: str | dict[str, Any] | None = None
    reasoning_effort: ReasoningEffort | None = None
    include_reasoning: bool = True
    parallel_tool_calls: bool | None = True
    user: str | None = None
    use_beam_search: bool = False
    top_k: int | None = None
    min_p: float | None = None
    repetition_penalty: float | None = None
    length_penalty: float = 1.0
    stop_token_ids: list[int] | None = None
    include_stop_str_in_output: bool = False
    ignore_eos: bool = False
    min_tokens: int = 0
    prompt_logprobs: int | None = None
    add_generation_prompt: bool = True
    continue_final_message: bool = False
    chat_template: str | None = None
    chat_template_kwargs: dict[str, Any] | None = None
    structured_outputs: StructuredOutputs | None = None
    request_id: str | None = None
    thinking_token_budget: int | None = None
    return_prompt_text: bool | None = None
    sim_fault: str | None = None


@dataclass
class ChatRequest:
    """A validated chat request, normalised for the script and the stream writer."""

    body: dict[str, Any]
    """The request body as sent."""
    fields: ChatFields
    """The typed fields."""
    model: str
    """The served name the response reports."""
    messages: list[dict[str, Any]]
    """The conversation."""
    media: list[list[MediaItem]]
    """Attachments of each message."""
    prompt_tokens: int
    """Prompt size after the chat template."""
    budget: int
    """Most completion tokens this request may produce (max_tokens, clamped to the window)."""
    tool_mode: str
    """`none`, `auto`, `required` or `named`."""
    named_tool: str | None
    """The forced tool's name when `tool_mode` is `named`."""
    thinking: bool
    """Whether the reply opens with reasoning."""
    reasoning_parser: bool
    """Whether usage reports `completion_tokens_details` (a reasoning parser is configured)."""
    request_id: str
    """The response `id`."""
    engine_error: SimError | None
    """An error vLLM reports from inside the engine: an error event when streaming, HTTP otherwise."""
    fault: Fault | None
    """The fault to inject, if any."""
    prompt: list[str]
    """The prompt's token strings, after the chat template."""
    constraint: Constraint | None
    """The structured-output constraint the reply must satisfy (None: free text)."""
    config: SimConfig
    """The server's configuration (the `help` reply describes it)."""

    @property
    def stream(self) -> bool:
        """Whether the answer is an SSE stream."""
        return bool(self.fields.stream)

    @property
    def n(self) -> int:
        """Number of choices."""
        return self.fields.n or 1

    @property
    def tools(self) -> list[Any]:
        """The offered tools."""
        return self.fields.tools or []

    @property
    def include_usage(self) -> bool:
        """Whether a usage chunk ends the stream."""
        return bool(self.stream and (self.fields.stream_options or {}).get("include_usage"))

    @property
    def continuous_usage(self) -> bool:
        """Whether every chunk carries cumulative usage."""
        return self.include_usage and bool((self.fields.stream_options or {}).get("continuous_usage_stats"))

    @property
    def stop(self) -> list[str]:
        """Stop strings."""
        stop = self.fields.stop
        return [stop] if isinstance(stop, str) else list(stop or [])

    @property
    def last_user_text(self) -> str:
        """The text of the last user message (empty if there is none)."""
        for message in reversed(self.messages):
            if message.get("role") == "user":
                return message_text(message.get("content"))
        return ""
