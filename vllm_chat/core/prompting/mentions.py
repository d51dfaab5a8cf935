"""`@path` in a prompt: the mentioned file's text goes to the model with the message.

A mention is `@` at the start of a word followed by a path (`@src/app.py`), or
a quoted path (`@"notes/my file.md"`); `@@` writes a plain `@`. Each mentioned
file is checked like the file tools check a path: it must be inside the start
folder (symlinks and `..` resolved), exist, and be a file. Text files become a
fenced block after the message (cut at a size limit, with a note saying so);
images, video and audio become attachments; binary files are refused; files
that look like secrets (keys, `.env`, ... — the file tools' rules) need the
user's explicit consent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from vllm_chat.core.conversation import ContextFile

MENTION = re.compile(r'(?<![\w@])@(?:"([^"\n]+)"|([^\s"@]+))')
"""`@path` or `@"a path"`, not inside a word (so `me@example.com` is no mention)."""

_TRAILING = ".,;:!?)]}'"
_SNIFF = 8192


class MentionError(Exception):
    """A mention that can't be sent, phrased for the user (whose input it was, what to do)."""


@dataclass(frozen=True)
class Secret:
    """A mentioned file that looks like a secret: it is sent only if the user agrees."""

    path: str
    """The file, relative to the start folder."""
    reason: str
    """Why it looks like a secret ("its name matches '.env'")."""


@dataclass
class ResolvedMentions:
    """What the mentions of one prompt add to the message."""

    files: list[ContextFile] = field(default_factory=list)
    """Text files, in the order they were first mentioned."""
    media: list[Path] = field(default_factory=list)
    """Images, video and audio mentioned: attached like files picked with the attach dialog."""
    secrets: list[Secret] = field(default_factory=list)
    """Mentioned files that look like secrets (left out unless the user agreed)."""


def mentioned_paths(text: str) -> list[str]:
    """The paths mentioned in `text`, in order, each once (trailing punctuation dropped)."""
    seen: list[str] = []
    for match in MENTION.finditer(text):
        quoted, bare = match.group(1), match.group(2)
        path = quoted if quoted is not None else bare.rstrip(_TRAILING)
        if path and path not in seen:
            seen.append(path)
    return seen


def plain_text(text: str) -> str:
    """`text` as the model reads it: `@@` written as `@`, mentions left as they were typed."""
    return text.replace("@@", "@")


def mention_at(text: str, cursor: int) -> tuple[int, str] | None:
    """The mention being typed where the cursor is: where its `@` is, and the path typed
    after it so far; None when the cursor is not in a mention."""
    start = text.rfind("@", 0, cursor)
    if start < 0:
        return None
    typed = text[start + 1:cursor]
    if any(c.isspace() for c in typed) or '"' in typed:
        return None
    if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "@_"):
        return None
    return start, typed


def resolve_mentions(
    text: str,
    root: Path,
    *,
    max_bytes: int,
    secret_patterns: tuple[str, ...] = (),
    allow_secrets: bool = False,
) -> ResolvedMentions:
    """Read what `text` mentions. Raises `MentionError` for a mention that can't be sent
    (missing, outside `root`, a folder, binary); files that look like secrets are read
    only with `allow_secrets`, else listed in `secrets`."""
    from vllm_chat.core.media.sniff import sniff_mime
    from vllm_chat.core.tools.secrets import secret_reason

    root = Path(root).resolve()
    resolved = ResolvedMentions()
    for raw in mentioned_paths(text):
        target = _inside(root, raw)
        relative = target.relative_to(root).as_posix()
        try:
            with open(target, "rb") as f:
                head = f.read(_SNIFF)
                size = f.seek(0, 2)
        except OSError as exc:
            raise MentionError(f"@{raw} can't be read: {exc.strerror or exc}.") from None
        reason = secret_reason(relative, head, secret_patterns)
        if reason and not allow_secrets:
            resolved.secrets.append(Secret(relative, reason))
            continue
        if sniff_mime(head) is not None:
            resolved.media.append(target)
            continue
        if b"\x00" in head or not _decodes(head):
            raise MentionError(f"@{raw} is a binary file; only text files, images, video and audio can "
                               "be mentioned. Remove the mention (or attach media with the attach dialog).")
        resolved.files.append(_read_text(target, relative, size, max_bytes))
    return resolved


def _inside(root: Path, raw: str) -> Path:
    """The real file `raw` names, checked to be a file inside `root`."""
    if "\x00" in raw:
        raise MentionError("A mention holds a NUL character.")
    try:
        target = (root / Path(raw).expanduser()).resolve()
    except (OSError, RuntimeError) as exc:
        raise MentionError(f"@{raw} can't be resolved: {exc}.") from None
    if target != root and not target.is_relative_to(root):
        raise MentionError(f"@{raw} is outside the folder vllm-chat was started in ({root}); only files "
                           "inside it can be mentioned.")
    if not target.exists():
        raise MentionError(f"@{raw}: there is no such file in {root}. Check the name, or write @@ for a "
                           "plain @.")
    if not target.is_file():
        raise MentionError(f"@{raw} is a folder; mention the files in it (typing @{raw}/ lists them).")
    return target


def _decodes(head: bytes) -> bool:
    import codecs

    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return False
    return True


def _read_text(target: Path, relative: str, size: int, max_bytes: int) -> ContextFile:
    with open(target, "rb") as f:
        data = f.read(max_bytes)
    text = data.decode("utf-8", errors="replace")
    if size > max_bytes:
        text = text.rsplit("\n", 1)[0] if "\n" in text else text  # end on a whole line
    return ContextFile(path=relative, text=text, size=size, truncated=size > max_bytes)
