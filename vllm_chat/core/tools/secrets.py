"""Which files look like secrets, so the file tools ask before reading them.

A file is a secret when its path matches a pattern (the defaults below plus
`tools.secret_files`), when it sits in a folder that holds keys (`.ssh`,
`.gnupg`, ...), or when its first bytes hold a private key, a cloud key or a
token (a git config with a token in a remote URL, too). The check names what
it found, so the approval prompt can say it ("an SSH private key").

Patterns work like `.gitignore` lines: one without a `/` matches a file name
in any folder (`*.pem`), one with a `/` matches the end of the path
(`.aws/credentials`).
"""

from __future__ import annotations

import re
from fnmatch import fnmatchcase
from pathlib import Path

DEFAULT_SECRET_FILES: tuple[str, ...] = (
    ".env", ".env.*", "*.env", ".envrc",
    "id_rsa", "id_rsa.*", "id_dsa", "id_ecdsa", "id_ed25519", "id_ed25519_sk", "id_ecdsa_sk",
    "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "*.kdbx", "*.gpg", "*.asc",
    ".netrc", "_netrc", ".pgpass", ".npmrc", ".pypirc", ".git-credentials", ".htpasswd",
    ".aws/credentials", ".aws/config", ".docker/config.json", ".kube/config", ".config/gh/hosts.yml",
    "credentials.json", "client_secret*.json", "service-account*.json", "secrets.*", "*.secret", "*.secrets",
    "*.tfstate", "*.tfvars", ".vault-token",
)
"""File patterns that always need approval to read (add more with `tools.secret_files`)."""

SECRET_FOLDERS = frozenset({".ssh", ".gnupg", ".password-store", ".aws", ".kube", ".docker"})
"""Folders whose every file needs approval to read."""

SNIFF_BYTES = 8192
"""Bytes of a file looked at for keys and tokens."""

_CONTENT_SIGNS: tuple[tuple[re.Pattern[bytes], str], ...] = (
    (re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"), "a private key"),
    (re.compile(rb"(?i)aws_secret_access_key\s*[=:]"), "an AWS secret key"),
    (re.compile(rb"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{30,}|\bgithub_pat_[A-Za-z0-9_]{40,}"), "a GitHub token"),
    (re.compile(rb"\bglpat-[A-Za-z0-9_-]{20,}"), "a GitLab token"),
    (re.compile(rb"\bxox[abposr]-[A-Za-z0-9-]{10,}"), "a Slack token"),
    (re.compile(rb"\bsk-(?:proj-|ant-)?[A-Za-z0-9_]{32,}"), "an API key"),
)
_GIT_CREDENTIAL = re.compile(rb"(?i)[a-z][a-z0-9+.-]*://[^/\s@]+@|extraheader\s*=.*(?:authorization|bearer|token)")


def _matches(relative: str, pattern: str) -> bool:
    pattern = pattern.strip()
    if "/" not in pattern:
        return bool(pattern) and fnmatchcase(relative.rpartition("/")[2], pattern)
    pattern = pattern.strip("/")
    return fnmatchcase(relative, pattern) or fnmatchcase(relative, "*/" + pattern)


def secret_reason(relative: str, head: bytes, extra_patterns: tuple[str, ...] = ()) -> str | None:
    """Why the file at `relative` (a path inside the tools' folder, `/`-separated) looks
    like a secret, given its first bytes `head`; None when it doesn't."""
    parts = relative.split("/")
    folder = next((p for p in parts[:-1] if p in SECRET_FOLDERS), None)
    if folder:
        return f"it is in {folder}/, a folder for keys and credentials"
    for pattern in (*DEFAULT_SECRET_FILES, *extra_patterns):
        if _matches(relative, pattern):
            origin = "your tools.secret_files" if pattern in extra_patterns else "a secret-file pattern"
            return f"its name matches {pattern!r} ({origin})"
    for sign, what in _CONTENT_SIGNS:
        if sign.search(head):
            return f"it holds what looks like {what}"
    if (relative.endswith((".git/config", ".gitconfig", ".gitmodules")) or relative == ".git/config") \
            and _GIT_CREDENTIAL.search(head):
        return "it is a git config with a password or token in it"
    return None


def is_broad_root(root: Path) -> bool:
    """Whether `root` is the home folder, `/`, or a folder above the home folder (such as
    /home): the file tools then reach far too much to read anything unasked."""
    root = root.resolve()
    if root == Path(root.anchor):
        return True
    try:
        home = Path.home().resolve()
    except (RuntimeError, KeyError, OSError):
        return False
    return root == home or home.is_relative_to(root)
