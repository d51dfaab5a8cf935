"""Every command of the installed `vllm-chat`, run as a real process, against hostile input.

A misbehaving server (`tests/support/hostile.py`), session files holding terminal
commands, keys inside URLs, odd command lines and non-UTF-8 input: what reaches a
terminal is inert, no key is printed or stored, faults are blamed on whoever made them
(exit 0 with a warning when the reply survived, 1 when the server failed, 2 for a bad
command line), and never a traceback.
"""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli import run_vllm_chat
from tests.support.hostile import HostileServer
from tests.support.tmux import installed_command
from vllm_chat.core.conversation import Conversation, Message
from vllm_chat.core.store import SessionStore

SECRET = "sk-url-secret-5c0ffee1"
OSC = "\x1b]52;c;cHduZWQ=\x07"


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServer]:
    server = HostileServer(models=("hostile",)).start_in_thread()
    yield server
    server.stop_thread()


def run(*args: str | bytes, stdin: bytes | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """The installed command with `args`, output captured as bytes (pipes, not a terminal)."""
    return run_vllm_chat(*args, input=stdin, cwd=cwd, timeout=120, text=False)


def on_terminal(*args: str, cwd: Path | None = None) -> tuple[int, bytes]:
    """The installed command with stdout and stderr on one pseudo-terminal: (status, bytes shown)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([installed_command(), *args], stdout=slave, stderr=slave,
                            stdin=subprocess.DEVNULL, cwd=cwd)
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 60)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # the other end closed (Linux says EIO)
            break
        if not data:
            break
        shown += data
    os.close(master)
    return proc.wait(timeout=60), shown


def text(result: subprocess.CompletedProcess[bytes]) -> tuple[str, str]:
    return result.stdout.decode(), result.stderr.decode()


@pytest.mark.parametrize(("fault", "said"), [
    ("garbage", "a chunk that is not JSON (e.g. `{garbage`)"),
    ("wrong-shape", "'choices' is a string, not a list"),
    ("bad-utf8", "bytes that are not UTF-8"),
])
def test_a_malformed_chunk_keeps_the_reply_and_warns_whose_fault_it_is(hostile, fault: str, said: str) -> None:
    result = run("--base-url", hostile.base_url, "-p", fault)
    out, err = text(result)
    assert result.returncode == 0
    assert out.startswith("before ") and out.rstrip("\n").endswith(" after")
    assert said in err and "not of vllm-chat" in err and "Traceback" not in err
    doc = json.loads(run("--base-url", hostile.base_url, "-p", fault, "--json").stdout)
    assert said in doc["warning"] and doc["status"] == "complete"


def test_a_two_megabyte_error_page_is_one_short_line(hostile) -> None:
    result = run("--base-url", hostile.base_url, "-p", "error-page")
    out, err = text(result)
    assert result.returncode == 1 and out == ""
    assert 'an HTML page of 2.0 MB ("502 Bad Gateway")' in err and len(err) < 600
    doc = json.loads(run("--base-url", hostile.base_url, "-p", "error-page", "--json").stdout)
    assert len(doc["error"]["message"]) < 300


def test_a_model_list_that_is_a_web_page_is_explained() -> None:
    server = HostileServer(models_body=b"<html><title>Sign in</title></html>").start_in_thread()
    try:
        result = run("--base-url", server.base_url, "-p", "hi")
    finally:
        server.stop_thread()
    err = result.stderr.decode()
    assert result.returncode == 1 and "did not answer with a model list" in err
    assert '("Sign in")' in err and "not a vllm-chat bug" in err


def test_a_reply_of_terminal_commands_is_inert_on_a_terminal_and_exact_in_a_pipe(hostile) -> None:
    status, shown = on_terminal("--base-url", hostile.base_url, "-p", "escapes")
    assert status == 0 and b"\x1b]52" not in shown and b"\x1b]0;" not in shown and b"\x1b[2J" not in shown
    assert "␛]52;c;cHduZWQ=␇".encode() in shown
    piped = run("--base-url", hostile.base_url, "-p", "escapes")
    assert b"\x1b]52;c;cHduZWQ=\x07" in piped.stdout, "a pipe gets the text exactly"


def test_the_answer_starts_on_its_own_line_after_the_reasoning_on_a_terminal(hostile) -> None:
    status, shown = on_terminal("--base-url", hostile.base_url, "-p", "reasoning 3000", "--show-reasoning")
    assert status == 0
    lines = shown.decode().replace("\r\n", "\n").split("\n")
    assert "done" in lines, f"the answer has a line of its own: {lines[-3:]}"


def test_a_key_inside_the_base_url_is_never_printed_or_saved(hostile) -> None:
    unreachable = run("--base-url", f"http://bob:{SECRET}@127.0.0.1:9/v1", "-p", "hi")
    as_json = run("--base-url", f"http://bob:{SECRET}@127.0.0.1:9/v1", "-p", "hi", "--json")
    malformed = run("--base-url", f"http://bob:{SECRET}@[::1/v1", "-p", "hi")
    for result in (unreachable, as_json, malformed):
        assert SECRET.encode() not in result.stdout + result.stderr
    assert b"http://bob:***@127.0.0.1:9/v1" in unreachable.stderr and malformed.returncode == 2
    url = hostile.base_url.replace("http://", f"http://bob:{SECRET}@")
    saved = run("--base-url", url, "-p", "error-page", "--save", "--json")
    session_id = json.loads(saved.stdout)["session_id"]
    for fmt in ("md", "json"):
        export = run("sessions", "export", session_id, "--format", fmt)
        assert export.returncode == 0 and b"502" in export.stdout
        assert SECRET.encode() not in export.stdout
    assert SECRET not in SessionStore().root.joinpath(f"{session_id}.json").read_text()


@pytest.mark.parametrize(("args", "stdin", "said"), [
    (["--base-url", "http://[::1", "-p", "hi"], None, "is not a valid URL (Invalid IPv6 URL)"),
    (["--base-url", "http://[::1"], None, "is not a valid URL"),  # the TUI would have crashed at start
    (["--resume", "", "-p", "hi"], None, "--resume needs a session id"),
    (["--resume", "  "], None, "--resume needs a session id"),
    (["--base-url", "http://127.0.0.1:9/v1"], b"caf\xe9 au lait\n", "the text piped on stdin is not UTF-8 (byte 0xe9"),
    (["-p", b"caf\xe9"], None, "the text given to -p is not UTF-8 (byte 0xe9)"),
    (["--model", b"m\xff", "-p", "hi"], None, "the text given to --model is not UTF-8"),
])
def test_a_bad_command_line_or_input_gets_a_clear_message_and_status_2(
        args: list[str | bytes], stdin: bytes | None, said: str) -> None:
    result = run(*args, stdin=stdin)
    err = result.stderr.decode()
    assert result.returncode == 2 and said in err and "Traceback" not in err


def test_a_config_nested_thousands_deep_is_refused_without_a_recursion_error(tmp_path: Path) -> None:
    config = tmp_path / "deep.toml"
    config.write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    result = run("--config", str(config), "-p", "hi")
    err = result.stderr.decode()
    assert result.returncode == 2 and "nested too deeply" in err and "RecursionError" not in err


def test_a_config_error_quoting_a_hostile_key_is_inert(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('"\\u001b]0;PWNED\\u0007" = 1\n')
    result = run("--config", str(config), "-p", "hi")
    assert result.returncode == 2 and b"\x1b" not in result.stderr and "␛]0;PWNED␇".encode() in result.stderr


def hostile_session(title: str, model: str) -> str:
    conv = Conversation(title=title, model=model)
    conv.add(Message(role="user", content=f"hello {OSC}\x1b[2J"))
    conv.add(Message(role="assistant", content=f"reply {OSC}", model=model))
    SessionStore().save(conv)
    return conv.id


def test_sessions_list_shows_titles_and_model_ids_inert_on_a_terminal_and_in_a_pipe() -> None:
    hostile_session(f"title {OSC}\x1b]0;PWNED\x07 two\nlines", f"model{OSC}")
    status, shown = on_terminal("sessions", "list")
    piped = run("sessions", "list")
    for output in (shown, piped.stdout):
        assert b"\x1b" not in output and "␛]52;c;cHduZWQ=␇".encode() in output
    assert status == 0 and piped.returncode == 0
    assert b"two lines" in piped.stdout, "a title stays on its line"
    listing = json.loads(run("sessions", "list", "--json").stdout)
    assert listing[0]["title"].startswith("title \x1b]52"), "--json is data: exact, and valid JSON"


def test_sessions_export_is_inert_on_a_terminal_and_exact_into_a_pipe() -> None:
    session_id = hostile_session("t", "m")
    status, shown = on_terminal("sessions", "export", session_id)
    assert status == 0 and b"\x1b" not in shown and "hello ␛]52;c;cHduZWQ=␇␛[2J".encode() in shown
    piped = run("sessions", "export", session_id)
    assert f"hello {OSC}\x1b[2J".encode() in piped.stdout


def test_sessions_search_and_fork_print_session_text_inert_on_a_terminal() -> None:
    session_id = hostile_session(f"needle {OSC}\x1b]0;PWNED\x07", "m")
    status, shown = on_terminal("sessions", "search", "needle")
    assert status == 0 and b"needle" in shown and b"\x1b]" not in shown, "only the bold marks are escapes"
    status, shown = on_terminal("sessions", "fork", session_id)
    assert status == 0 and b"forked" in shown and b"\x1b" not in shown and "␛]52".encode() in shown


def test_tools_list_shows_server_text_inert_and_no_key_from_a_server_url(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text(
        '[[tools.shell]]\nname = "greet"\ndescription = "Say hi \\u001b]52;c;cHduZWQ=\\u0007 now"\n'
        'command = ["echo", "hi"]\n\n'
        f'[[mcp.servers]]\nname = "remote"\nurl = "http://user:{SECRET}@127.0.0.1:9/mcp"\nconnect_timeout = 2\n')
    status, shown = on_terminal("tools", "--config", str(config), "list")
    assert status == 0 and b"\x1b" not in shown and "Say hi ␛]52;c;cHduZWQ=␇ now".encode() in shown
    assert b"http://user:***@127.0.0.1:9/mcp" in shown and SECRET.encode() not in shown
    as_json = run("tools", "--config", str(config), "list", "--json")
    assert as_json.returncode == 0 and SECRET.encode() not in as_json.stdout + as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["servers"][0]["target"] == "http://user:***@127.0.0.1:9/mcp"


def test_the_server_command_prints_a_hostile_config_key_inert_and_no_key_from_the_url(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('"\\u001b]0;PWNED\\u0007" = 1\n')
    status, shown = on_terminal("server", "--config", str(config))
    assert status == 2 and b"\x1b" not in shown and "␛]0;PWNED␇".encode() in shown
    url = f"http://bob:{SECRET}@127.0.0.1:9/v1"
    status, shown = on_terminal("server", "--base-url", url)
    as_json = run("server", "--base-url", url, "--json")
    assert status == 1 and as_json.returncode == 1
    assert SECRET.encode() not in shown + as_json.stdout + as_json.stderr and b"bob:***@" in shown


def test_a_read_of_a_secret_file_is_not_run_without_approval_and_names_the_file(hostile, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("API_TOKEN=do-not-send-me\n")
    call = "call read_file " + json.dumps({"path": ".env"})
    denied = run("--base-url", hostile.base_url, "-p", call, cwd=tmp_path)
    assert denied.returncode == 0 and b"read_file needs approval: denied" in denied.stderr
    assert b"Reads '.env', which looks like a secret" in denied.stderr
    assert "do-not-send-me" not in json.dumps(hostile.requests[-1]), "the file never reached the server"
    allowed = run("--base-url", hostile.base_url, "-p", call, "--yes", cwd=tmp_path)
    assert allowed.returncode == 0 and "do-not-send-me" in json.dumps(hostile.requests[-1])


def test_a_shell_argument_starting_with_a_dash_is_refused_unless_allowed(hostile, tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[tools.shell]]\nname = "find_text"\ndescription = "grep"\n'
                      'command = ["grep", "-n", "{pattern}", "notes.txt"]\n'
                      '[tools.shell.parameters.pattern]\ntype = "string"\n')
    (tmp_path / "notes.txt").write_text("-R is here\n")
    result = run("--config", str(config), "--base-url", hostile.base_url, "--yes", "-p",
                 "call find_text " + json.dumps({"pattern": "-R"}), cwd=tmp_path)
    assert result.returncode == 0 and b"[tool find_text: error]" in result.stderr
    sent = json.dumps(hostile.requests[-1])
    assert "starts with '-', so grep would take it for an option" in sent
    config.write_text(config.read_text().replace('"{pattern}"', '"--", "{pattern}"'))
    after_dashes = run("--config", str(config), "--base-url", hostile.base_url, "--yes", "-p",
                       "call find_text " + json.dumps({"pattern": "-R"}), cwd=tmp_path)
    assert b"[tool find_text: ok]" in after_dashes.stderr, "after a -- item the value is data"
    assert "1:-R is here" in json.dumps(hostile.requests[-1])


def test_a_huge_table_is_printed_whole_by_one_shot(hostile) -> None:
    result = run("--base-url", hostile.base_url, "-p", "table 10000")
    out = result.stdout.decode()
    assert result.returncode == 0 and out.count("| row-") == 10_000 and out.rstrip().endswith("END OF TABLE")


def test_a_session_whose_attachment_reference_was_edited_is_blamed_on_the_file(hostile) -> None:
    from vllm_chat.core.conversation import Attachment

    conv = Conversation(model="hostile")
    conv.add(Message(role="user", content="look", attachments=[
        Attachment(kind="image", name="cat.png", mime="image/png", ref="/etc/passwd")]))
    conv.add(Message(role="assistant", content="a cat"))
    SessionStore().save(conv)
    result = run("--base-url", hostile.base_url, "--resume", conv.id, "-p", "again")
    err = result.stderr.decode()
    assert result.returncode == 1 and "'/etc/passwd' is not a media-folder file name" in err
    assert "not a bug in vllm-chat" in err and "Traceback" not in err
