"""Files that look like secrets need the user's approval to be read, naming the file and
why; in the home folder (or /) every read does; shell tool arguments are data, never
options."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import call

from vllm_chat.core.config import ShellParam, ToolsSettings
from vllm_chat.core.tools import ToolRegistry
from vllm_chat.core.tools.approval import ApprovalPolicy, Decision
from vllm_chat.core.tools.shell_tools import ShellCommandTool


def policy(root: Path, **tools: object) -> ApprovalPolicy:
    registry, problems = ToolRegistry.from_settings(ToolsSettings(**tools), root=root)
    assert not problems
    return ApprovalPolicy(registry)


def read(path: str) -> object:
    return call("read_file", {"path": path})


@pytest.mark.parametrize(("path", "content", "why"), [
    (".env", "TOKEN=x", "its name matches '.env'"),
    ("app/.env.production", "X=1", "its name matches '.env.*'"),
    (".ssh/id_ed25519", "key", "it is in .ssh/, a folder for keys and credentials"),
    ("certs/server.pem", "x", "its name matches '*.pem'"),
    (".aws/credentials", "[default]", "it is in .aws/"),
    ("notes/backup.txt", "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n", "it holds what looks like a private key"),
    ("config.ini", "aws_secret_access_key = abc", "an AWS secret key"),
    (".git/config", '[remote "origin"]\n\turl = https://bob:ghp_token@github.com/x.git\n',
     "a git config with a password or token in it"),
])
def test_a_file_that_looks_like_a_secret_needs_approval_naming_it(root: Path, path: str, content: str,
                                                                   why: str) -> None:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(content)
    guard = policy(root)
    assert guard.needs_prompt(read(path))
    preview = guard.registry.preview(read(path))
    assert preview is not None and f"Reads '{path}'" in preview and why in preview


def test_ordinary_files_and_git_configs_without_tokens_are_read_without_asking(root: Path) -> None:
    (root / "src").mkdir()
    (root / "src" / "app.py").write_text("print('hi')\n")
    (root / ".git").mkdir()
    (root / ".git" / "config").write_text('[remote "origin"]\n\turl = https://github.com/x/y.git\n')
    guard = policy(root)
    assert not guard.needs_prompt(read("src/app.py")) and not guard.needs_prompt(read(".git/config"))
    assert not guard.needs_prompt(call("list_directory", {"path": "."}))


def test_the_deny_list_is_configurable(root: Path) -> None:
    (root / "private").mkdir()
    (root / "private" / "plan.txt").write_text("x")
    (root / "launch.secret").write_text("x")
    guard = policy(root, secret_files=["private/*", "*.secret"])
    assert guard.needs_prompt(read("private/plan.txt")) and guard.needs_prompt(read("launch.secret"))
    assert "your tools.secret_files" in (guard.registry.preview(read("launch.secret")) or "")


def test_allowing_a_secret_read_for_the_session_covers_that_file_only(root: Path) -> None:
    (root / ".env").write_text("A=1")
    (root / "id_rsa").write_text("k")
    guard = policy(root)
    guard.record(read(".env"), Decision.ALLOW_SESSION)
    assert not guard.needs_prompt(read(".env"))
    assert guard.needs_prompt(read("id_rsa")), "another secret still asks"


@pytest.mark.parametrize("where", ["home", "root"])
def test_started_in_the_home_folder_or_root_every_read_asks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                            where: str) -> None:
    home = tmp_path / "home"
    (home / "docs").mkdir(parents=True)
    (home / "docs" / "notes.txt").write_text("x")
    monkeypatch.setenv("HOME", str(home))
    root = home if where == "home" else Path("/")
    path = "docs/notes.txt" if where == "home" else str(home / "docs" / "notes.txt").lstrip("/")
    guard = policy(root)
    assert guard.needs_prompt(read(path)) and guard.needs_prompt(call("list_directory", {"path": "."}))
    assert "every read is asked first" in (guard.registry.preview(read(path)) or "")
    note = guard.registry.file_tools_note() or ""
    assert f"read only inside {root}" in note and "every read asks you first" in note


def test_a_project_folder_says_where_the_file_tools_reach(root: Path) -> None:
    note = policy(root).registry.file_tools_note() or ""
    assert f"read only inside {root}" in note and "secret-looking files ask first" in note


def shell(root: Path, command: list[str], **params: ShellParam) -> ShellCommandTool:
    return ShellCommandTool(name="cmd", description="", command=command, params=params, root=root)


async def test_a_shell_value_starting_with_a_dash_is_refused_where_it_would_be_an_option(root: Path) -> None:
    registry = ToolRegistry([shell(root, ["grep", "-n", "{pattern}", "file.txt"], pattern=ShellParam())])
    outcome = await registry.execute(call("cmd", {"pattern": "-R"}))
    assert outcome.status == "error" and "'-R' starts with '-', so grep would take it for an option" in outcome.output


async def test_after_a_double_dash_or_inside_an_item_a_dash_is_just_data(root: Path) -> None:
    (root / "file.txt").write_text("a -R b\n")
    after = shell(root, ["grep", "--", "{pattern}", "file.txt"], pattern=ShellParam())
    inside = shell(root, ["grep", "--regexp={pattern}", "file.txt"], pattern=ShellParam())
    for tool in (after, inside):
        outcome = await ToolRegistry([tool]).execute(call("cmd", {"pattern": "-R"}))
        assert outcome.status == "ok" and "a -R b" in outcome.output


async def test_a_parameter_may_allow_a_leading_dash(root: Path) -> None:
    tool = shell(root, ["echo", "{n}"], n=ShellParam(type="integer", allow_dash=True))
    outcome = await ToolRegistry([tool]).execute(call("cmd", {"n": -5}))
    assert outcome.status == "ok" and outcome.output == "-5"
    strict = shell(root, ["echo", "{n}"], n=ShellParam(type="integer"))
    assert (await ToolRegistry([strict]).execute(call("cmd", {"n": -5}))).status == "error"
