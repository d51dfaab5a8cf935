"""Check that a secret (an API key) was never written to disk."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path


def _encodings(secret: str) -> list[bytes]:
    """The forms a secret could take in a file: plain, UTF-16, base64, JSON-escaped."""
    plain = secret.encode()
    forms = [plain, secret.encode("utf-16-le"), base64.b64encode(plain)]
    forms.append(json.dumps(secret, ensure_ascii=True).encode()[1:-1])
    return forms


def assert_no_secret_in_tree(root: Path, secret: str) -> None:
    """Fail if `secret` occurs in any file (or file name) under `root`.

    Looks for the plain text, UTF-16, base64 and the JSON-escaped form, in
    every regular file, hidden ones included. A missing `root` is fine: then
    nothing was written.
    """
    assert len(secret) >= 8, "use a distinctive secret, or every file will match"
    if not root.exists():
        return
    forms = _encodings(secret)
    leaks = []
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            if secret in name:
                leaks.append(os.path.join(folder, name))
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            data = path.read_bytes()
            if any(form in data for form in forms):
                leaks.append(str(path))
    assert not leaks, f"the secret was written to: {', '.join(sorted(leaks))}"
