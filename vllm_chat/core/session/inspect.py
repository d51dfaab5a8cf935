"""Looking inside a reply: the exact request that produced it (to read or copy as JSON,
curl or Python), the prompt the chat template made of it, and its tokens'
probabilities."""

from __future__ import annotations

from vllm_chat.core.conversation import Message
from vllm_chat.core.logprobs import TokenTable
from vllm_chat.core.params import DEFAULT_LOGPROBS, SamplingParams
from vllm_chat.core.prompt_render import RenderedPrompt, render_prompt
from vllm_chat.core.request_view import CopyForm, ExactRequest, copy_text, exact_request
from vllm_chat.core.session.base import SessionBase


class InspectPart(SessionBase):
    """A reply's request, rendered prompt and logprobs."""

    _last_logprobs: int | None = None

    def _reply(self, message_id: str) -> Message:
        for message in self.conversation.messages:
            if message.id == message_id:
                return message
        raise KeyError(message_id)

    def request_of(self, message_id: str) -> ExactRequest:
        """The request that produced the reply `message_id` (its messages rebuilt from the
        conversation; `exact` says whether they are the ones sent). Raises `KeyError` for
        an unknown message, `request_view.NoRequest` for one without a recorded request."""
        return exact_request(self.conversation, self._reply(message_id), needs_key=self._client.has_api_key,
                             headers=self._client.transport.copy_headers())

    def request_as(self, message_id: str, form: CopyForm) -> str:
        """The reply's request written out as JSON, a curl command or a Python script, each
        runnable as it is against the same server (the API key and the values of the extra
        headers read from the environment)."""
        return copy_text(self.request_of(message_id), form)

    async def render_prompt(self, message_id: str) -> RenderedPrompt:
        """Ask the server what its chat template made of the reply's request (raises
        `telemetry.probe.ProbeError` saying why when it can't)."""
        return await render_prompt(self._client, self.request_of(message_id).body)

    @property
    def logprobs(self) -> int | None:
        """Alternatives per token the next turns ask for (None: logprobs are off)."""
        return self.conversation.params.logprobs

    def set_logprobs(self, top_n: int | None) -> None:
        """Ask for each token's logprob and `top_n` alternatives from the next turn on
        (None: stop asking); saved with the conversation."""
        params = self.conversation.params.model_dump()
        params["logprobs"] = top_n
        self.conversation.params = SamplingParams(**params)
        self._changed()

    def toggle_logprobs(self) -> int | None:
        """Logprobs on (with the alternatives asked for last, else `DEFAULT_LOGPROBS`) or
        off; returns how many alternatives the next turns ask for (None: off)."""
        if self.logprobs is not None:
            self._last_logprobs = self.logprobs
            self.set_logprobs(None)
        else:
            self.set_logprobs(self._last_logprobs or DEFAULT_LOGPROBS)
        return self.logprobs

    def logprobs_of(self, message_id: str) -> TokenTable | None:
        """The reply's tokens with their logprobs and alternatives (None when the request
        did not ask for logprobs)."""
        packed = self._reply(message_id).logprobs
        return packed.tokens() if packed is not None else None
