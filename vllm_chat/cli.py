"""Command line: parse, build `Settings`, then run the TUI, one-shot mode or a subcommand.

Heavy modules (pydantic, Textual, openai) are imported only on the path that
needs them, so `vllm-chat --version` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from vllm_chat import __version__
from vllm_chat.gateway_flags import add_gateway_flags, gateway_overrides
from vllm_chat.generation_flags import (
    FlagError,
    add_generation_flags,
    apply_to_conversation,
    generation_overrides,
)

EPILOG = """\
examples:
  vllm-chat --demo                          chat with the built-in simulated server
  vllm-chat --base-url http://gpu:8000/v1   chat with a vLLM server
  vllm-chat --base-url https://llm.corp/v1 --ca-bundle corp-ca.pem -H 'Authorization: Bearer ${TOKEN}'
                                            behind a company gateway (the token from the environment)
  vllm-chat -p "Explain KV caching"         print one reply and exit
  vllm-chat -p "a user" --json-schema u.json   a reply valid against a schema (else exit 3)
  vllm-chat -m base --completion -p "def f("   a base model continues the text
  vllm-chat -p "$(cat notes.md)" --count    the prompt's exact token count, nothing generated
  git diff | vllm-chat -p "Review this"     piped text is added to the prompt
  vllm-chat -p "review @src/app.py"         @path sends a file of this folder with the prompt
  git diff | vllm-chat --prompt commit-message --var diff=@-   a saved prompt
  vllm-chat -c                              continue the most recent session
  vllm-chat -p "Name a colour" -n 3         three candidate replies (--json: a list)
  vllm-chat sessions list                   saved sessions (also: search, export, fork, delete)
  vllm-chat server --json                   the server's version, models, load and cache
  vllm-chat tools list                      every tool the model is offered, MCP servers too
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser for the main command (the `sessions` subcommand has its own)."""
    p = argparse.ArgumentParser(
        prog="vllm-chat",
        description="A keyboard-driven terminal chat client for vLLM.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="version", version=f"vllm-chat {__version__}")
    conn = p.add_argument_group("server")
    conn.add_argument("--demo", action="store_true", help="start the built-in simulated vLLM server and use it")
    conn.add_argument("--base-url", help="OpenAI-compatible base URL, /v1 included (default http://localhost:8000/v1)")
    conn.add_argument("--api-key", help="API key the server was started with (--api-key)")
    conn.add_argument("-m", "--model", help="model to use (default: the first one the server lists)")
    conn.add_argument("--profile", help="use the [profiles.NAME] table of the config")
    conn.add_argument("--config", help="config file (default: the platform config folder)")
    add_gateway_flags(conn)
    conv = p.add_argument_group("conversation")
    conv.add_argument("-s", "--system", help="system prompt")
    conv.add_argument("-c", "--continue", dest="continue_", action="store_true",
                      help="continue the most recent session")
    conv.add_argument("-r", "--resume", metavar="ID", help="continue a session (a unique id prefix is enough)")
    conv.add_argument("--theme", help="theme name")
    samp = p.add_argument_group("sampling")
    samp.add_argument("--temperature", type=float)
    samp.add_argument("--top-p", type=float)
    samp.add_argument("--max-tokens", type=int)
    samp.add_argument("--top-k", type=int, help="vLLM extra")
    samp.add_argument("--min-p", type=float, help="vLLM extra")
    samp.add_argument("--repetition-penalty", type=float, help="vLLM extra")
    samp.add_argument("--presence-penalty", type=float)
    samp.add_argument("--frequency-penalty", type=float)
    samp.add_argument("--seed", type=int)
    samp.add_argument("--logprobs", type=int, metavar="N",
                      help="ask for each token's probability and its N likeliest alternatives (0-20); "
                           "with --json, printed per token")
    samp.add_argument("--stop", action="append", metavar="TEXT", help="stop string (repeatable, up to 4)")
    samp.add_argument("--thinking", dest="thinking", action="store_true", default=None,
                      help="chat_template_kwargs.enable_thinking = true")
    samp.add_argument("--no-thinking", dest="thinking", action="store_false",
                      help="chat_template_kwargs.enable_thinking = false")
    tools = p.add_argument_group("tools")
    tools.add_argument("--no-tools", action="store_true", help="don't offer tools to the model")
    tools.add_argument("--tool-choice", choices=["auto", "none", "required"])
    tools.add_argument("-y", "--yes", action="store_true", help="one-shot: run tools that need approval")
    one = p.add_argument_group("one-shot mode")
    one.add_argument("-p", "--print", dest="prompt", metavar="PROMPT",
                     help="print the reply to PROMPT and exit ('-' reads stdin)")
    one.add_argument("--show-reasoning", action="store_true", help="print reasoning to stderr")
    one.add_argument("--json", action="store_true", help="print one JSON object with text, reasoning, usage")
    one.add_argument("--save", action="store_true", help="save a one-shot exchange as a new session")
    one.add_argument("-a", "--attach", action="append", metavar="FILE_OR_URL",
                     help="attach an image, video or audio file (or URL) to the prompt (repeatable)")
    one.add_argument("--prompt", dest="template", metavar="NAME",
                     help="use the saved prompt NAME (prompts/NAME.md in the config folder, or [prompts.NAME])")
    one.add_argument("--var", action="append", metavar="KEY=VALUE",
                     help="a value for a {{variable}} of --prompt (VALUE @FILE reads a file, @- stdin)")
    one.add_argument("-n", "--candidates", type=int, metavar="N",
                     help="print N candidate replies (2-8; vLLM's n), each under its own header")
    one.add_argument("--beam-search", action="store_true",
                     help="with -n: the N best replies by beam search (use_beam_search)")
    one.add_argument("--compare", metavar="MODEL,MODEL",
                     help="send the prompt to 2-4 models or LoRA adapters at once and print every reply")
    add_generation_flags(p)
    one.add_argument("--count", action="store_true",
                     help="print the prompt's exact token count (the server's /tokenize) and max_model_len; "
                          "nothing is generated")
    one.add_argument("--compact", action="store_true",
                     help="with -c/--resume: summarise the older turns first (compaction), then send")
    return p


def cli_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the user set on the command line, shaped like the config file."""
    out: dict[str, Any] = {}
    for flag, key in (("base_url", "base_url"), ("api_key", "api_key"), ("model", "model"),
                      ("system", "system_prompt"), ("theme", "theme")):
        value = getattr(args, flag)
        if value is not None:
            out[key] = value
    sampling = {}
    for name in ("temperature", "top_p", "max_tokens", "top_k", "min_p", "repetition_penalty",
                 "presence_penalty", "frequency_penalty", "seed", "stop", "logprobs"):
        value = getattr(args, name)
        if value is not None:
            sampling[name] = value
    if args.thinking is not None:
        sampling["enable_thinking"] = args.thinking
    if sampling:
        out["sampling"] = sampling
    tools: dict[str, Any] = {}
    if args.no_tools:
        tools["enabled"] = False
    if args.tool_choice:
        tools["choice"] = args.tool_choice
    if tools:
        out["tools"] = tools
    return out


def say(text: str) -> None:
    """Print a message for the user on stderr, made safe: control characters shown,
    never obeyed, and credentials in URLs hidden (messages quote files, flags, servers)."""
    from vllm_chat.core.text import message_text

    print(f"vllm-chat: {message_text(text)}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `vllm-chat`."""
    try:
        return _main(argv)
    except _CliError as exc:
        say(str(exc))
        return 2
    except KeyboardInterrupt:
        say("stopped.")
        return 130
    except BrokenPipeError:
        # Whoever read our output stopped reading (`| head`): nothing to report. Point
        # stdout at /dev/null so the interpreter's final flush doesn't fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141  # 128 + SIGPIPE, what a shell reports for a program its pipe closed


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--version"]:
        print(f"vllm-chat {__version__}")
        return 0
    if argv[:1] == ["sessions"]:
        from vllm_chat.sessions_cli import sessions_main

        return sessions_main(argv[1:])
    if argv[:1] == ["server"]:
        from vllm_chat.server_cli import server_main

        return server_main(argv[1:])

    if argv[:1] == ["tools"]:
        from vllm_chat.tools_cli import tools_main

        return tools_main(argv[1:])
    args = build_parser().parse_args(argv)
    _check_text_arguments(args)
    if args.resume is not None and not args.resume.strip():
        raise _CliError("--resume needs a session id (or a unique start of one); "
                        "'vllm-chat sessions list' shows them.")

    from vllm_chat.core.config import ConfigError, load_settings
    from vllm_chat.core.transport import TransportError

    try:
        overrides = {**cli_overrides(args), **generation_overrides(args), **gateway_overrides(args)}
        settings = load_settings(overrides, config_path=args.config, profile=args.profile)
    except (ConfigError, FlagError, TransportError) as exc:
        say(str(exc))
        return 2

    demo = None
    if args.demo:
        from vllm_chat.demo import demo_model, demo_settings, start_demo_server

        demo = start_demo_server()
        served = [*demo.config.models, *demo.config.loras]
        model, note = demo_model(served, args.model)
        if note:
            say(note)
        settings = demo_settings(settings, demo.base_url, model)
    try:
        conversation = _conversation_from_args(args)
        apply_to_conversation(args, settings, conversation)
        from vllm_chat.oneshot_input import OneShotInputError, oneshot_input

        try:
            given = oneshot_input(args.prompt, args.template, args.var or [])
        except OneShotInputError as exc:
            raise _CliError(str(exc)) from None
        if given is not None:
            return _oneshot(settings, args, given, conversation)
        if args.candidates is not None or args.compare or args.beam_search:
            raise _CliError("-n, --beam-search and --compare work with -p; in the app, ask for candidates "
                            "or a comparison from the command palette or a reply's menu.")
        from vllm_chat.ui.run import run_tui

        return run_tui(settings, conversation=conversation, demo=demo is not None)
    except _CliError as exc:
        say(str(exc))
        return 2
    finally:
        if demo is not None:
            demo.stop()


class _CliError(Exception):
    """A command-line problem phrased for the user (exit status 2)."""


_TEXT_OPTIONS = {"prompt": "-p", "system": "--system", "model": "--model", "base_url": "--base-url",
                 "api_key": "--api-key", "profile": "--profile", "theme": "--theme", "resume": "--resume",
                 "stop": "--stop", "template": "--prompt", "var": "--var", "compare": "--compare"}
"""Options whose text goes to the server or into a session (file paths may be any bytes)."""


def _check_text_arguments(args: argparse.Namespace) -> None:
    """Refuse text options that are not UTF-8 (Python keeps such bytes as lone surrogates,
    which no request or session file can carry)."""
    for name, flag in _TEXT_OPTIONS.items():
        value = getattr(args, name, None)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, str) and _bad_byte(item) is not None:
                raise _CliError(
                    f"the text given to {flag} is not UTF-8 (byte 0x{_bad_byte(item):02x}); the terminal or "
                    "script that passed it uses another encoding. Give UTF-8 text (e.g. set LANG=C.UTF-8, "
                    "or convert it with iconv).")


def _bad_byte(text: str) -> int | None:
    """The first byte that was not UTF-8 in an argument decoded with surrogateescape."""
    for char in text:
        if 0xDC80 <= ord(char) <= 0xDCFF:
            return ord(char) - 0xDC00
    return None


def _several_replies(args: argparse.Namespace) -> dict[str, Any]:
    """`-n`, `--beam-search` and `--compare` as `OneShotRequest` fields (checked together)."""
    compare = [m.strip() for m in (args.compare or "").split(",") if m.strip()]
    if args.candidates is not None and compare:
        raise _CliError("-n and --compare don't go together: ask for candidates of one model, or compare models.")
    if args.beam_search and args.candidates is None:
        raise _CliError("--beam-search needs -n N (how many beams to keep).")
    if args.compare is not None and not compare:
        raise _CliError("--compare needs model names, separated by commas.")
    return {"candidates": args.candidates or 0, "beam": args.beam_search, "compare": compare}


def _conversation_from_args(args: argparse.Namespace) -> Any:
    """The saved conversation `-c` / `--resume` name (None for a new one). A model given
    with `-m` replaces the conversation's own, in the TUI and in one-shot mode alike."""
    if not args.continue_ and args.resume is None:
        return None
    from vllm_chat.core.store import SessionStore, StoreError

    store = SessionStore()
    try:
        if args.resume is not None:
            conversation = store.load(store.resolve(args.resume.strip()))
        else:
            recent = store.most_recent()
            if recent is None:
                raise _CliError("there is no saved session to continue yet.")
            conversation = store.load(recent.id)
    except StoreError as exc:
        raise _CliError(str(exc)) from None
    if args.model:
        conversation.model = args.model
    return conversation


def _oneshot(settings: Any, args: argparse.Namespace, given: Any, conversation: Any) -> int:
    import asyncio

    from vllm_chat.oneshot import OneShotRequest, run_oneshot

    attachments = []
    if args.attach:
        from vllm_chat.core.attachments import AttachmentError, prepare_attachment

        try:
            attachments = [prepare_attachment(a, settings.attachments).attachment for a in args.attach]
        except AttachmentError as exc:
            raise _CliError(str(exc)) from None
    request = OneShotRequest(
        **_several_replies(args),
        prompt=given.text,
        template=given.template,
        variables=given.variables,
        attachments=attachments,
        show_reasoning=args.show_reasoning,
        as_json=args.json,
        yes=args.yes,
        conversation=conversation,
        save=args.save,
        count=args.count,
        compact=args.compact,
    )
    return asyncio.run(run_oneshot(settings, request))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
