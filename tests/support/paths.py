"""Where the tests find data that lives outside the repository."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository's root folder."""

STRICT = bool(os.environ.get("VLLM_CHAT_STRICT"))
"""Set by .ci/run: a missing tool or data folder fails the run instead of skipping tests."""


def captures_dir() -> Path:
    """The raw captures of a real vLLM: `VLLM_CHAT_CAPTURES`, else `../shared/vllm-captures`
    beside the repository (the layout of this project's workspace)."""
    override = os.environ.get("VLLM_CHAT_CAPTURES")
    if override:
        return Path(override)
    return REPO.parent / "shared" / "vllm-captures"
