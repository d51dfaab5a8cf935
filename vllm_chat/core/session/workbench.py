"""The prompt as a workbench: `@path` mentions, saved prompts, and prompts queued while a
reply streams.

A front end hands the typed text to `prepare`, which reads the mentioned
files (or says why it can't), and sends the result with `send`. Saved prompts
come from `templates()`; `use_template` fills one in and applies its settings
to the conversation. Prompts sent while a turn runs wait in `queued` and go
out one by one as turns end well; after a stopped or failed turn they wait
for the user.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from vllm_chat.core.conversation import Attachment, ContextFile, Message
from vllm_chat.core.prompting.files import FileList, list_files, match_files
from vllm_chat.core.prompting.mentions import (
    MentionError,
    Secret,
    mention_at,
    mentioned_paths,
    plain_text,
    resolve_mentions,
)
from vllm_chat.core.prompting.templates import TemplateBook, load_templates
from vllm_chat.core.session.controls import ControlsPart
from vllm_chat.core.session.status import SessionStatus


class SecretsMentioned(MentionError):
    """Mentioned files look like secrets: they are sent only once the user agrees."""

    def __init__(self, secrets: list[Secret]) -> None:
        names = ", ".join(f"{s.path} ({s.reason})" for s in secrets)
        super().__init__(f"These mentioned files look like secrets: {names}.")
        self.secrets = secrets
        """The files and why each looks like a secret."""


@dataclass(frozen=True)
class Draft:
    """A prompt ready to be sent: its text, attachments and the files it mentions."""

    text: str
    """What the user wrote (`@@` already written as `@`)."""
    attachments: list[Attachment] = field(default_factory=list)
    """Media: attached by hand, and mentioned images, video and audio."""
    files: list[ContextFile] = field(default_factory=list)
    """The text files it mentions, read now."""


@dataclass(frozen=True)
class Completion:
    """What can finish the word being typed in the prompt."""

    kind: Literal["file", "prompt"]
    """A file after `@`, or a saved prompt after `/` at the start of the prompt."""
    start: int
    """Where the word starts in the text (at its `@` or `/`)."""
    typed: str
    """What was typed after the `@` or `/` so far."""
    items: list[tuple[str, str]]
    """The candidates, best first: (what to insert after the `@` or `/`, a description)."""


@dataclass(frozen=True)
class QueuedPrompt:
    """A prompt the user sent while a reply was still coming."""

    text: str
    """As typed (mentions are read when it is sent)."""
    attachments: list[Attachment] = field(default_factory=list)
    """The media attached to it."""


class WorkbenchPart(ControlsPart):
    """Mentions, saved prompts and the queue."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._queue: list[QueuedPrompt] = []
        self._file_list: FileList | None = None
        self._templates: TemplateBook | None = None

    def status(self) -> SessionStatus:
        """The base status, with the number of queued prompts."""
        return replace(super().status(), queued=len(self._queue))

    @property
    def queued(self) -> list[QueuedPrompt]:
        """Prompts waiting for the running (or stopped, or failed) turn, oldest first."""
        return self._queue

    # -- mentions -----------------------------------------------------------------------

    @property
    def mention_root(self) -> Path:
        """The folder `@` mentions are taken from (and confined to): where vllm-chat started."""
        return self._root

    def mention_candidates(self, typed: str, *, refresh: bool = False, limit: int = 50) -> list[str]:
        """Files under the start folder that match what was typed after `@`, best first.
        The folder is listed once (and again with `refresh`, e.g. when the picker opens)."""
        if self._file_list is None or refresh:
            self._file_list = list_files(self._root, hidden=self.settings.mentions.hidden_files)
        return match_files(self._file_list, typed, limit)

    def completion(self, text: str, cursor: int, *, fresh: bool = False) -> Completion | None:
        """What could finish the word at `cursor` in `text` (None: nothing to offer). `fresh`
        lists the start folder again (when the picker opens, not on every keystroke)."""
        line_start = text.rfind("\n", 0, cursor) + 1
        if text.startswith("/") and line_start == 0 and " " not in text[:cursor]:
            typed = text[1:cursor]
            book = self.templates()
            names = [n for n in sorted(book.templates) if n.startswith(typed)] or \
                [n for n in sorted(book.templates) if typed.lower() in n.lower()]
            items = [(n, book.templates[n].fields.description) for n in names]
            return Completion("prompt", 0, typed, items) if items else None
        found = mention_at(text, cursor)
        if found is None:
            return None
        start, typed = found
        paths = self.mention_candidates(typed, refresh=fresh)
        return Completion("file", start, typed, [(p, "") for p in paths]) if paths else None

    @property
    def mentions_truncated(self) -> bool:
        """The start folder holds more files than the @ picker lists."""
        return self._file_list is not None and self._file_list.truncated

    def prepare(self, text: str, attachments: list[Attachment] | None = None, *,
                allow_secrets: bool = False) -> Draft:
        """The message `text` makes: mentioned files read, mentioned media attached. Raises
        `MentionError` (a mention that can't be sent) or `SecretsMentioned` (files that look
        like secrets, unless `allow_secrets`), before anything is sent."""
        attached = list(attachments or [])
        if not mentioned_paths(text):
            return Draft(plain_text(text), attached)
        resolved = resolve_mentions(text, self._root, max_bytes=self.settings.mentions.max_file_kb * 1024,
                                    secret_patterns=self._secret_patterns(), allow_secrets=allow_secrets)
        if resolved.secrets:
            raise SecretsMentioned(resolved.secrets)
        for path in resolved.media:
            attached.append(self._attach_mentioned(path))
        return Draft(plain_text(text), attached, resolved.files)

    def _secret_patterns(self) -> tuple[str, ...]:
        return tuple(getattr(self.settings.tools, "secret_files", ()))

    def _attach_mentioned(self, path: Path) -> Attachment:
        from vllm_chat.core.attachments import AttachmentError, prepare_attachment

        try:
            return prepare_attachment(path, self.settings.attachments).attachment
        except AttachmentError as exc:
            raise MentionError(f"@{path.relative_to(self._root).as_posix()}: {exc}") from None

    def send(self, draft: Draft) -> Message:
        """Add `draft` as the user's message, ready for `run` (a new conversation is titled
        from it)."""
        return self.add_user_message(draft.text, draft.attachments, draft.files)

    def add_user_message(self, text: str, attachments: list[Attachment] | None = None,
                         files: list[ContextFile] | None = None) -> Message:
        """Append the user's message as it is (no mentions read; see `prepare`), titling a new
        conversation from it. Raises ValueError, with the reason, for attachments or files
        in completion mode (the document a base model continues is text only)."""
        if (attachments or files) and self.conversation.kind == "completion":
            from vllm_chat.core.session.generation import COMPLETION_TEXT_ONLY

            raise ValueError(COMPLETION_TEXT_ONLY)
        conv = self.conversation
        if not conv.title:
            from vllm_chat.core.titles import title_from_prompt

            conv.title = title_from_prompt(text)
        return conv.add(Message(role="user", content=text, attachments=list(attachments or []),
                                files=list(files or [])))

    # -- saved prompts ---------------------------------------------------------------------

    def templates(self, *, reload: bool = False) -> TemplateBook:
        """The saved prompts (shipped, the user's `prompts/*.md`, the config's `[prompts]`),
        read once (again with `reload`)."""
        if self._templates is None or reload:
            from vllm_chat.core.paths import user_prompts_dir
            from vllm_chat.core.prompting.templates import shipped_folder

            self._templates = load_templates([shipped_folder(), user_prompts_dir()], self.settings.prompts)
        return self._templates

    def use_template(self, name: str, values: dict[str, str]) -> str:
        """Fill in the saved prompt `name` and apply what it sets (system prompt, model,
        sampling) to the conversation; returns its text for the prompt box. Raises
        `TemplateError` for an unknown name or a missing variable."""
        template = self.templates().get(name)
        text, system = template.render(values)
        fields = template.fields
        if system is not None:
            self.conversation.system_prompt = system.strip()
        if fields.model:
            self.conversation.model = fields.model
        if fields.sampling is not None:
            self.conversation.params = self.conversation.params.merged(fields.sampling)
        if system is not None or fields.model or fields.sampling is not None:
            self._changed()
        return text

    # -- the queue -------------------------------------------------------------------------

    def enqueue(self, text: str, attachments: list[Attachment] | None = None) -> QueuedPrompt:
        """Keep a prompt sent while a turn runs; it goes out when the turn ends well."""
        prompt = QueuedPrompt(text, list(attachments or []))
        self.queued.append(prompt)
        self._status_changed()
        return prompt

    def unqueue(self, index: int) -> QueuedPrompt:
        """Take the queued prompt at `index` out of the queue (to edit it, or to drop it)."""
        prompt = self.queued.pop(index)
        self._status_changed()
        return prompt

    def next_queued(self, *, after_failure: bool = False) -> QueuedPrompt | None:
        """The prompt to send now that a turn ended, taken off the queue; None while none
        waits, while a turn still runs, or when the turn was stopped or failed (the queue
        then waits for the user: `after_failure=True` is the user saying "go on")."""
        if not self.queued or self._engine.running:
            return None
        last = self.conversation.messages[-1] if self.conversation.messages else None
        ended_well = last is not None and last.role == "assistant" and not last.was_cut \
            and last.failure is None
        if not ended_well and not after_failure:
            return None
        return self.unqueue(0)
