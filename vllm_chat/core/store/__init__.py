"""Sessions on disk: one JSON file per conversation, safe with many writers, listed and searched fast.

The parts:

- `sessions.py`: `SessionStore`, the folder: save (never over another
  writer's work: merge, or save as a new session), load, list, resolve,
  rename, fork, delete, search.
- `documents.py`: a conversation as the JSON document of its file and back
  (schema version, generation, migrations), and the summary the list shows.
- `files.py`: atomic private writes, stat keys, the folder lock.
- `listing.py`: the summary cache `.index.json`.
- `merge.py`: merging another process's saves into this one's conversation.
- `search.py`: the full-text index `.search/index.sqlite`, kept up to date with the folder.
- `searchable.py`: the searchable text of a session, query words, and snippets.
- `changes.py`: the change log `.search/changes`, which lets the search and the listing
  re-read just the files other vllm-chat processes wrote instead of scanning the folder.
- `errors.py`: the exceptions, each with a message that says what to do.

Everything a caller needs is importable from here.
"""

from vllm_chat.core.store.documents import (
    INTERRUPTED,
    SCHEMA_VERSION,
    DiskState,
    SessionSummary,
    UnreadableSession,
    parse_document,
    parse_session,
    redact_url,
    session_json,
    summarize,
)
from vllm_chat.core.store.errors import (
    SessionChanged,
    SessionIdConflict,
    StoreError,
    StoreLocked,
)
from vllm_chat.core.store.files import LOCK_NAME, LOCK_TIMEOUT, atomic_write
from vllm_chat.core.store.listing import INDEX_NAME
from vllm_chat.core.store.sessions import (
    DiskChange,
    PreparedSave,
    SaveOutcome,
    SessionStore,
)

__all__ = [
    "INDEX_NAME",
    "INTERRUPTED",
    "LOCK_NAME",
    "LOCK_TIMEOUT",
    "SCHEMA_VERSION",
    "DiskChange",
    "DiskState",
    "PreparedSave",
    "SaveOutcome",
    "SessionChanged",
    "SessionIdConflict",
    "SessionStore",
    "SessionSummary",
    "StoreError",
    "StoreLocked",
    "UnreadableSession",
    "atomic_write",
    "parse_document",
    "parse_session",
    "redact_url",
    "session_json",
    "summarize",
]
