"""MCP tool names: valid for every vLLM tool parser, unique, and the same whatever server
answers first."""

from __future__ import annotations

from vllm_chat.core.mcp.names import MAX_NAME, assign_names, clean_name


def test_names_keep_only_letters_digits_and_underscores_and_never_start_with_a_digit() -> None:
    assert clean_name("get-weather") == "get_weather"
    assert clean_name("github.create_issue") == "github_create_issue"
    assert clean_name("files/read file") == "files_read_file"
    assert clean_name("3d_render") == "t_3d_render"
    assert clean_name("--") == "tool"


def test_a_tool_keeps_its_own_name_when_nothing_else_has_it() -> None:
    names = assign_names(["datetime"], [("fs", ["read_text", "stat"])])
    assert names == {("fs", "read_text"): "read_text", ("fs", "stat"): "stat"}


def test_a_name_a_local_tool_has_gets_the_server_prefix() -> None:
    names = assign_names(["calculator"], [("math", ["calculator", "plot"])])
    assert names[("math", "calculator")] == "math_calculator"
    assert names[("math", "plot")] == "plot"


def test_a_name_two_servers_offer_is_prefixed_on_both_whichever_came_first() -> None:
    one = assign_names([], [("github", ["search"]), ("docs", ["search", "fetch"])])
    other = assign_names([], [("docs", ["search", "fetch"]), ("github", ["search"])])
    assert one[("github", "search")] == other[("github", "search")] == "github_search"
    assert one[("docs", "search")] == other[("docs", "search")] == "docs_search"
    assert one[("docs", "fetch")] == "fetch"


def test_names_that_clean_to_the_same_text_are_numbered_and_long_names_are_cut() -> None:
    names = assign_names([], [("s", ["a-b", "a.b"]), ("long", ["x" * 100])])
    assert {names[("s", "a-b")], names[("s", "a.b")]} == {"s_a_b", "s_a_b_2"}
    assert len(names[("long", "x" * 100)]) == MAX_NAME
