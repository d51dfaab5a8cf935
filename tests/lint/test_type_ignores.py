"""Every `type: ignore` in the package names the error it silences and says in a
word why the checker is wrong there (`# type: ignore[attr-defined]  # its private cache`)."""

from __future__ import annotations

import re

from tests.support.paths import REPO

JUSTIFIED = re.compile(r"# type: ignore\[[a-z-]+(, *[a-z-]+)*\]  # \S")


def test_every_type_ignore_is_justified() -> None:
    bare = []
    for path in sorted((REPO / "vllm_chat").rglob("*.py")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            if "type: ignore" in line and not JUSTIFIED.search(line):
                bare.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not bare, "give each its error code and, after it, why:\n" + "\n".join(bare)
