"""The approval policy: who is asked, what is remembered, what the model hears on a denial."""

from __future__ import annotations

import pytest
from conftest import EchoTool, NoArgsTool, call

from vllm_chat.core.tools import (
    ApprovalPolicy,
    Decision,
    Tool,
    ToolOutcome,
    ToolRegistry,
)


class GuardedTool(NoArgsTool):
    """A tool that asks before every call."""

    name = "guarded"
    confirm = True


@pytest.fixture
def registry() -> ToolRegistry:
    return ToolRegistry([GuardedTool(), NoArgsTool(), EchoTool()], confirm=["echo"])


def test_only_tools_that_need_approval_prompt(registry):
    policy = ApprovalPolicy(registry)
    assert policy.needs_prompt("guarded")
    assert policy.needs_prompt("echo")
    assert not policy.needs_prompt("ping")
    assert not policy.needs_prompt("unknown")


def test_allow_once_is_not_remembered(registry):
    policy = ApprovalPolicy(registry)
    policy.record("guarded", Decision.ALLOW_ONCE)
    assert policy.needs_prompt("guarded")


def test_allow_for_the_session_stops_prompts_for_that_tool_only(registry):
    policy = ApprovalPolicy(registry)
    policy.record("guarded", Decision.ALLOW_SESSION)
    assert not policy.needs_prompt("guarded")
    assert policy.needs_prompt("echo")
    assert policy.allowed_for_session == {"guarded"}


def test_a_denial_is_not_remembered_and_the_next_call_prompts_again(registry):
    policy = ApprovalPolicy(registry)
    policy.record("guarded", Decision.DENY)
    assert policy.needs_prompt("guarded")


def test_reset_forgets_session_allowances(registry):
    policy = ApprovalPolicy(registry)
    policy.record("guarded", Decision.ALLOW_SESSION)
    policy.reset()
    assert policy.needs_prompt("guarded")


def test_auto_approve_never_prompts(registry):
    policy = ApprovalPolicy(registry, auto_approve=True)
    assert not any(policy.needs_prompt(name) for name in registry.names())


def test_the_denied_outcome_tells_the_model_not_to_retry(registry):
    outcome = ApprovalPolicy(registry).denied_outcome(call("guarded", {}))
    assert outcome == ToolOutcome(
        "denied", "The user denied this call to guarded. Do not retry it; answer without it or ask the user."
    )


def test_a_tool_subclass_confirms_only_when_it_says_so():
    assert Tool.confirm is False
    assert GuardedTool.confirm is True
