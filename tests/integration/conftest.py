"""The real-vLLM tests run one after the other per server, on one pytest-xdist worker
each (`--dist loadgroup`): a CPU vLLM serves one request at a time well, and several
checks read server-wide counters (running requests, aborts, /metrics) that another
test's request would move.

A test that talks to the reasoning server says so with
`@pytest.mark.xdist_group("real-vllm-reasoning")`; every other test here joins the
main server's group, "real-vllm" (the extra servers a few tests use when their URL is
set, LoRA, base model, per-request metrics, scale-out, run with them)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent
MAIN_GROUP = "real-vllm"
GROUPS = (MAIN_GROUP, "real-vllm-reasoning")
"""The xdist groups of these tests: one per real server."""


@pytest.hookimpl(tryfirst=True)  # before xdist reads the groups into the node ids
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # This hook sees the whole session's items, not only this folder's.
    for item in items:
        if HERE in item.path.parents and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group(MAIN_GROUP))
