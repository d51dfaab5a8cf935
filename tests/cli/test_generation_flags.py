"""The generation flags on the command line: a constraint per run (stdout is exactly the reply;
a reply that does not match, or was cut, exits 3 with the first error on stderr), reasoning
controls, completion mode for a base model, and what bad values say (exit 2). Runs the real
command against a simulated vLLM."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_vllm_chat
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer

PERSON = {"title": "person", "type": "object", "required": ["name", "age"],
          "properties": {"name": {"type": "string"}, "age": {"type": "integer"}}}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimServer]:
    config = SimConfig(models=("sim-chat", "sim-base"), base_models=("sim-base",), reasoning=True)
    server = SimServer(config).start_in_thread()
    yield server
    server.stop()


def run(sim: SimServer, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat("--base-url", sim.base_url, *args, cwd=cwd, timeout=60)


def test_a_schema_file_gives_a_reply_valid_against_it_and_stdout_is_exactly_the_reply(sim, tmp_path) -> None:
    (tmp_path / "person.json").write_text(json.dumps(PERSON))
    result = run(sim, "-p", "a person", "--json-schema", "person.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"name": "Ada Lovelace", "age": 36}
    assert result.stdout == '{"name": "Ada Lovelace", "age": 36}', "no newline added: a pipe gets the reply"
    sent = sim.stats.last_request_body["response_format"]
    assert sent == {"type": "json_schema", "json_schema": {"name": "person", "schema": PERSON, "strict": True}}


def test_an_inline_schema_works_as_well(sim) -> None:
    result = run(sim, "-p", "a person", "--json-schema", json.dumps(PERSON))
    assert result.returncode == 0 and json.loads(result.stdout)["age"] == 36


@pytest.mark.parametrize(("flags", "field", "sent", "reply"), [
    (["--json-object"], "response_format", {"type": "json_object"}, None),
    (["--regex", "[A-Z]{3}-[0-9]{2}"], "structured_outputs", {"regex": "[A-Z]{3}-[0-9]{2}"}, None),
    (["--choice", "red, blue"], "structured_outputs", {"choice": ["red", "blue"]}, "blue"),
])
def test_each_constraint_flag_is_sent_the_way_vllm_reads_it(sim, flags, field, sent, reply) -> None:
    result = run(sim, "-p", "pick blue", *flags)
    assert result.returncode == 0, result.stderr
    assert sim.stats.last_request_body[field] == sent
    assert not any(k.startswith("guided_") for k in sim.stats.last_request_body)
    if reply is not None:
        assert result.stdout == reply


def test_a_grammar_file_is_sent_as_the_grammar(sim, tmp_path) -> None:
    (tmp_path / "yn.ebnf").write_text('root ::= "yes" | "no"\n')
    result = run(sim, "-p", "well?", "--grammar", "yn.ebnf", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert sim.stats.last_request_body["structured_outputs"] == {"grammar": 'root ::= "yes" | "no"\n'}
    assert result.stdout in ("yes", "no")


def test_a_reply_that_does_not_match_exits_3_with_the_first_error_and_the_likely_cause(sim) -> None:
    result = run(sim, "-p", "code sim:unconstrained", "--regex", "[A-Z]{3}-[0-9]{2}")
    assert result.returncode == 3
    lines = result.stderr.splitlines()
    assert lines[0].startswith("vllm-chat: the reply does not match regex [A-Z]{3}-[0-9]{2}: ")
    assert "so the server ignored it" in lines[1] and "vLLM older than 0.12" in lines[1]
    assert result.stdout.startswith("You said")


def test_a_reply_cut_at_max_tokens_exits_3_and_says_it_was_cut_not_that_it_does_not_match(sim) -> None:
    result = run(sim, "-p", "x sim:ramble", "--json-object", "--max-tokens", "6")
    assert result.returncode == 3
    assert result.stderr == ("vllm-chat: the reply was cut at max_tokens before it was complete (raise "
                             "--max-tokens); it was not checked against the constraint (any JSON object).\n")


def test_json_output_carries_the_check_and_keeps_exit_3(sim) -> None:
    result = run(sim, "-p", "pick green sim:unconstrained", "--choice", "red,blue", "--json")
    assert result.returncode == 3
    doc = json.loads(result.stdout)
    assert doc["check"]["outcome"] == "invalid" and doc["check"]["constraint"] == "choice red|blue"


@pytest.mark.parametrize(("flags", "says"), [
    (["--json-schema", "missing.json"], "There is no schema file"),
    (["--json-schema", '{"type": "object"'], "is not valid JSON"),
    (["--regex", "("], "is not valid"),
    (["--choice", ","], "The choice list is empty"),
    (["--grammar", "missing.ebnf"], "There is no grammar file"),
    (["--template-kwargs", "nothing"], "--template-kwargs: chat_template_kwargs: write key=value"),
    (["--thinking-budget", "-3"], "--thinking-budget must be 0 or more"),
    (["--reasoning-effort", "very high"], "reasoning_effort is one word"),
])
def test_a_bad_flag_value_is_said_before_anything_starts_with_exit_2(sim, tmp_path, flags, says) -> None:
    result = run(sim, "-p", "hi", *flags, cwd=tmp_path)
    assert result.returncode == 2 and says in result.stderr
    assert result.stdout == ""


def test_two_constraint_flags_are_refused_by_the_parser(sim) -> None:
    result = run(sim, "-p", "hi", "--json-object", "--regex", "x")
    assert result.returncode == 2 and "not allowed with argument" in result.stderr


def test_reasoning_flags_reach_the_server(sim) -> None:
    result = run(sim, "-p", "why is the sky blue?", "--reasoning-effort", "low", "--thinking-budget", "32",
                 "--no-include-reasoning", "--template-kwargs", "custom=1,enable_thinking=true")
    assert result.returncode == 0, result.stderr
    body = sim.stats.last_request_body
    assert (body["reasoning_effort"], body["thinking_token_budget"], body["include_reasoning"]) == ("low", 32, False)
    assert body["chat_template_kwargs"] == {"custom": 1, "enable_thinking": True}


def test_completion_sends_the_prompt_as_a_completion_to_a_base_model(sim) -> None:
    result = run(sim, "-m", "sim-base", "-p", "echo continue this", "--completion")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "continue this\n"
    assert sim.stats.last_request_body["prompt"] == "echo continue this"


def test_completion_with_an_attachment_is_refused_with_the_reason(sim, tmp_path) -> None:
    from PIL import Image

    Image.new("RGB", (16, 16)).save(tmp_path / "p.png")
    result = run(sim, "-m", "sim-base", "-p", "what?", "--completion", "-a", "p.png", cwd=tmp_path)
    assert result.returncode == 2 and "Completion mode sends text only" in result.stderr


def test_chat_with_a_base_model_says_to_use_completion(sim) -> None:
    result = run(sim, "-m", "sim-base", "-p", "hello")
    assert result.returncode == 1
    assert "sim-base has no chat template" in result.stderr
    assert "Use it in completion mode (--completion)" in result.stderr


def test_flags_apply_to_a_continued_session_and_are_saved_with_it(sim) -> None:
    first = run(sim, "-p", "hi", "--save")
    assert first.returncode == 0
    result = run(sim, "-c", "-p", "pick red", "--choice", "red,blue", "--reasoning-effort", "none")
    assert result.returncode == 0 and result.stdout == "red"
    store = SessionStore()
    conv = store.load(store.most_recent().id)
    assert conv.constraint.choices == ["red", "blue"] and conv.reasoning_controls.reasoning_effort == "none"
    assert conv.messages[-1].check.outcome == "valid"
