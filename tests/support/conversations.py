"""Conversations tests start from, built in memory (no server, no file)."""

from __future__ import annotations

from vllm_chat.core.conversation import Conversation, Message


def one_exchange(prompt: str, reply: str, model: str = "sim-chat") -> Conversation:
    """A conversation of one prompt and its reply from `model`."""
    conv = Conversation(model=model)
    conv.add(Message(role="user", content=prompt))
    conv.add(Message(role="assistant", content=reply, model=model))
    return conv
