"""The answer "allow for this session" lasts as long as the conversation: a new conversation, or
another one opened from the saved sessions, asks again before a confirm-tool runs."""

from __future__ import annotations

from vllm_chat.core.config import load_settings
from vllm_chat.core.conversation import Conversation, ToolCall
from vllm_chat.core.session import ChatSession
from vllm_chat.core.tools.approval import Decision
from vllm_chat.simserver import SimConfig, SimServer

SHOUT = {"shell": [{"name": "shout", "description": "Shout the given text back", "command": ["echo", "{text}"],
                    "parameters": {"text": {"type": "string", "description": "what to shout"}}}]}


async def shout(session: ChatSession, text: str) -> str | None:
    """Run one turn asking for the shell tool; the tool message's status."""
    session.add_user_message(f"shout {text}")
    [e async for e in session.run()]
    return next(m.tool_status for m in reversed(session.conversation.messages) if m.role == "tool")


async def test_allow_for_this_session_is_forgotten_in_a_new_or_opened_conversation() -> None:
    asked: list[ToolCall] = []

    async def allow_for_session(call: ToolCall) -> Decision:
        asked.append(call)
        return Decision.ALLOW_SESSION

    async with SimServer(SimConfig()) as server:
        session = ChatSession(load_settings({"base_url": server.base_url, "model": "sim-chat", "tools": SHOUT}),
                              approver=allow_for_session)
        assert await shout(session, "one") == "ok"
        assert await shout(session, "two") == "ok"
        assert len(asked) == 1, "allowed for the session: the second call runs unasked"

        session.new_conversation()
        assert await shout(session, "three") == "ok"
        assert len(asked) == 2, "a new conversation asks again"

        session.open_conversation(Conversation(model="sim-chat"))
        assert await shout(session, "four") == "ok"
        assert len(asked) == 3, "an opened conversation asks again"
        await session.aclose()
