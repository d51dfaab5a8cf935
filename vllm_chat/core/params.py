"""Sampling options, validated with the same ranges vLLM enforces.

The OpenAI-standard options go into the SDK call as keyword arguments; vLLM's
extras (`top_k`, `min_p`, `repetition_penalty`, thinking on/off) go through
`extra_body`, exactly as the protocol reference prescribes. Validating here
means a typo in the config or the settings panel is caught before a request
is sent, with the message vLLM itself would give.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_LOGPROBS = 20
"""Most alternatives per token a request may ask for (vLLM's default `--max-logprobs`)."""
DEFAULT_LOGPROBS = 5
"""Alternatives per token when logprobs are switched on without a number."""


class SamplingParams(BaseModel):
    """Per-turn sampling options. `None` means: leave it to the server's defaults."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    temperature: float | None = Field(default=None, ge=0, le=2)
    """Randomness, 0 to 2 (vLLM: `temperature must be in [0, 2]`)."""
    top_p: float | None = Field(default=None, gt=0, le=1)
    """Nucleus sampling, in (0, 1]."""
    max_tokens: int | None = Field(default=None, ge=1)
    """Cap on generated tokens (None: the rest of the context window)."""
    top_k: int | None = Field(default=None, ge=-1)
    """vLLM extra: sample from the k most likely tokens (0 or -1: off)."""
    min_p: float | None = Field(default=None, ge=0, le=1)
    """vLLM extra: drop tokens below this fraction of the top probability, in [0, 1]."""
    repetition_penalty: float | None = Field(default=None, gt=0)
    """vLLM extra: > 1 discourages repetition, 1.0 is off; must be > 0."""
    presence_penalty: float | None = Field(default=None, ge=-2, le=2)
    """Penalty for tokens already present, in [-2, 2]."""
    frequency_penalty: float | None = Field(default=None, ge=-2, le=2)
    """Penalty proportional to how often a token appeared, in [-2, 2]."""
    seed: int | None = Field(default=None, ge=-(2**63), le=2**63 - 1)
    """Seed for reproducible sampling (a 64-bit integer)."""
    stop: list[str] = Field(default_factory=list, max_length=4)
    """Up to four stop strings (vLLM refuses more)."""
    enable_thinking: bool | None = None
    """Thinking on/off for templates that read `chat_template_kwargs.enable_thinking`."""
    logprobs: int | None = Field(default=None, ge=0, le=MAX_LOGPROBS)
    """Ask for each token's log-probability and this many likeliest alternatives
    (`logprobs: true`, `top_logprobs: N`; 0 to 20, vLLM's default `--max-logprobs`);
    None: off."""

    @field_validator("stop")
    @classmethod
    def _no_empty_stop(cls, value: list[str]) -> list[str]:
        if any(s == "" for s in value):
            raise ValueError("stop strings must not be empty")
        return value

    def request_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `chat.completions.create`, `extra_body` included."""
        kwargs: dict[str, Any] = {}
        for name in ("temperature", "top_p", "max_tokens", "presence_penalty",
                     "frequency_penalty", "seed"):
            value = getattr(self, name)
            if value is not None:
                kwargs[name] = value
        if self.stop:
            kwargs["stop"] = list(self.stop)
        if self.logprobs is not None:
            kwargs["logprobs"] = True
            kwargs["top_logprobs"] = self.logprobs
        extra: dict[str, Any] = {}
        for name in ("top_k", "min_p", "repetition_penalty"):
            value = getattr(self, name)
            if value is not None:
                extra[name] = value
        if self.enable_thinking is not None:
            extra["chat_template_kwargs"] = {"enable_thinking": self.enable_thinking}
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    def merged(self, overrides: SamplingParams) -> SamplingParams:
        """These params with every field that `overrides` sets explicitly replaced."""
        data = self.model_dump()
        data.update(overrides.model_dump(exclude_unset=True))
        return SamplingParams(**data)
