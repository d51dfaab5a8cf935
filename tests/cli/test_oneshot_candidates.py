"""One-shot mode with several replies: `-n N` prints N candidates one after the other, each
under a header line; `--beam-search` finds them by beam search; `--compare` sends the prompt
to several models; `--json` gives them as a list. Runs the real command against a simulated
vLLM."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import pytest

from tests.support.cli import run_vllm_chat
from vllm_chat.core.store import SessionStore
from vllm_chat.simserver import SimConfig, SimServer


@pytest.fixture(scope="module")
def sim() -> Iterator[object]:
    server = SimServer(SimConfig(loras={"sim-chat-terse": "sim-chat"})).start_in_thread()
    yield server
    server.stop()


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return run_vllm_chat(*args, timeout=60)


def sections(stdout: str) -> list[tuple[str, str]]:
    """(header, text) per reply: a header line starts with '── ' and ends with ' ──'."""
    out: list[tuple[str, list[str]]] = []
    for line in stdout.splitlines():
        if line.startswith("── ") and line.endswith(" ──"):
            out.append((line, []))
        elif out:
            out[-1][1].append(line)
    return [(header, "\n".join(lines).strip()) for header, lines in out]


def test_n_prints_every_candidate_under_its_own_header(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "hello there", "-n", "3")
    assert result.returncode == 0, result.stderr
    found = sections(result.stdout)
    assert [h.split(" · ")[0] for h, _ in found] == ["── candidate 1/3", "── candidate 2/3", "── candidate 3/3"]
    assert all(text for _, text in found), "every candidate's text is printed"
    assert all("tokens" in header for header, _ in found), "each header has the candidate's figures"
    assert found[0][1] != found[1][1], "the candidates differ"
    assert result.stderr == ""


def test_json_lists_the_candidates(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "hello there", "-n", "2", "--json", "--max-tokens", "9")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert [c["label"] for c in doc["candidates"]] == ["#1", "#2"]
    for candidate in doc["candidates"]:
        assert candidate["text"] and candidate["status"] == "complete" and candidate["finish_reason"] == "length"
        assert candidate["usage"]["completion_tokens"] == 9 and candidate["model"] == "sim-chat"


def test_beam_search_prints_the_beams(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "hello there", "-n", "2", "--beam-search")
    assert result.returncode == 0, result.stderr
    assert [h.split(" · ")[0] for h, _ in sections(result.stdout)] == ["── beam 1/2", "── beam 2/2"]


def test_compare_prints_each_models_reply_and_a_failing_model_fails_alone_with_status_1(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "hello there", "--compare", "sim-chat,sim-chat-terse,retired")
    assert result.returncode == 1
    found = sections(result.stdout)
    assert [h.split(" · ")[0] for h, _ in found] == ["── sim-chat (1/3)", "── sim-chat-terse (2/3)", "── retired (3/3)"]
    assert found[0][1] and found[1][1], "the other models' replies are printed"
    assert "failed" in found[2][0]
    assert "retired (3/3)" in result.stderr and "does not serve the model 'retired'" in result.stderr


def test_candidates_that_break_the_constraint_exit_3_each_named_with_its_first_error(sim) -> None:
    matching = run("--base-url", sim.base_url, "-p", "a code", "-n", "2", "--regex", "[A-Z]{3}-[0-9]{2}")
    assert matching.returncode == 0, matching.stderr
    ignored = run("--base-url", sim.base_url, "-p", "a code sim:unconstrained", "-n", "2",
                  "--regex", "[A-Z]{3}-[0-9]{2}")
    assert ignored.returncode == 3, ignored.stderr
    assert "candidate 1/2" in ignored.stderr and "candidate 2/2" in ignored.stderr
    assert "does not match" in ignored.stderr
    as_json = run("--base-url", sim.base_url, "-p", "a code sim:unconstrained", "-n", "2", "--json",
                  "--regex", "[A-Z]{3}-[0-9]{2}")
    assert as_json.returncode == 3
    assert [c["check"]["outcome"] for c in json.loads(as_json.stdout)["candidates"]] == ["invalid", "invalid"]


def test_saved_candidates_stay_in_the_session_as_alternatives(sim) -> None:
    result = run("--base-url", sim.base_url, "-p", "hello there", "-n", "2", "--save", "--json")
    doc = json.loads(result.stdout)
    conv = SessionStore().load(doc["session_id"])
    assert [m.content.lstrip("\n") for m in (conv.messages[-1], *conv.aside)] == [c["text"] for c in
                                                                                  doc["candidates"]]
    assert conv.forks and len(conv.forks[0].options) == 2


@pytest.mark.parametrize(("args", "expected"), [
    (("-n", "1"), "Ask for 2 to 8 candidates"),
    (("-n", "9"), "Ask for 2 to 8 candidates"),
    (("--beam-search",), "--beam-search needs -n N"),
    (("-n", "2", "--compare", "a,b"), "don't go together"),
    (("--compare", "sim-chat"), "at least two models"),
    (("--compare", " , "), "needs model names"),
    (("-n", "3", "--temperature", "0"), "temperature 0"),
], ids=["one", "too-many", "beam-without-n", "n-and-compare", "one-model", "no-models", "greedy"])
def test_a_request_for_replies_that_cant_be_made_says_why_with_status_2(sim, args, expected) -> None:
    result = run("--base-url", sim.base_url, "-p", "hello", *args)
    assert result.returncode == 2
    assert expected in result.stderr and result.stdout == ""

