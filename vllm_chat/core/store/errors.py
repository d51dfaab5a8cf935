"""What can go wrong with saved sessions, as exceptions whose message says what to do."""

from __future__ import annotations


class StoreError(Exception):
    """A session operation failed; the message says what happened and what to do."""


class SessionIdConflict(StoreError):
    """Saving would overwrite a session file that can't be read; it is left alone.

    Give the conversation a new id (`vllm_chat.core.conversation.new_id()`) and
    save again; `SessionRecorder` does this by itself.
    """


class StoreLocked(StoreError):
    """Another vllm-chat held the sessions folder's lock for longer than the store waits."""


class SessionChanged(StoreError):
    """The session file changed since this conversation was read or written.

    Raised by `SessionStore.commit` (which runs in a worker thread and must not
    change the conversation); `SessionStore.save` merges instead.
    """
