"""`vllm-chat-sim`: run the simulated vLLM server from the command line.

    vllm-chat-sim --port 8000 --tps 40 --reasoning

prints `vllm-chat-sim: serving sim-chat, sim-vision at http://127.0.0.1:8000/v1
(Ctrl+C to stop)` and serves until SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys

from vllm_chat.simserver.config import (
    DEFAULT_KV_CACHE_TOKENS,
    DEFAULT_MAX_MODEL_LEN,
    DEFAULT_MODELS,
    SimConfig,
)
from vllm_chat.simserver.faults import FAULT_KINDS
from vllm_chat.simserver.server import SimServer


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(
        prog="vllm-chat-sim",
        description="A simulated vLLM OpenAI-compatible server: scripted replies, real wire format, faults on demand.",
        epilog="Type 'help' to the model for its magic phrases. Faults: " + ", ".join(FAULT_KINDS),
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port; 0 picks a free one (default: 8000)")
    parser.add_argument("--model", action="extend", nargs="+", metavar="NAME",
                        help=f"served model names (default: {', '.join(DEFAULT_MODELS)})")
    parser.add_argument("--api-key", metavar="KEY", help="require 'Authorization: Bearer KEY' on /v1")
    parser.add_argument("--tps", type=float, default=0.0, help="tokens per second per stream; 0 = as fast as possible")
    parser.add_argument("--ttft", type=float, default=0.0, metavar="SECONDS", help="time to first token")
    parser.add_argument("--reasoning", action="store_true", help="open replies with reasoning, like --reasoning-parser")
    parser.add_argument("--reasoning-field", choices=("reasoning", "reasoning_content"), default="reasoning",
                        help="name of the reasoning field (legacy servers used reasoning_content)")
    parser.add_argument("--max-model-len", type=int, default=DEFAULT_MAX_MODEL_LEN, metavar="N",
                        help=f"context window in tokens (default: {DEFAULT_MAX_MODEL_LEN})")
    parser.add_argument("--lora", action="append", default=[], metavar="NAME=PARENT",
                        help="serve a LoRA adapter NAME on top of model PARENT, repeatable")
    parser.add_argument("--multimodal", action="extend", nargs="*", metavar="MODEL",
                        help="models that accept images/audio/video (default: sim-vision; none if given empty)")
    parser.add_argument("--limit-images", type=int, metavar="N", help="most images per prompt")
    parser.add_argument("--no-auto-tool-choice", action="store_true",
                        help="behave like a server without --enable-auto-tool-choice")
    parser.add_argument("--duplicate-index-tool-deltas", action="store_true",
                        help="send a tool name and its first argument fragment in one delta, same index")
    parser.add_argument("--sse-keep-alive", type=float, default=0.0, metavar="SECONDS",
                        help="send ': keep-alive' after this much silence (0 = never)")
    parser.add_argument("--fault", metavar="KIND[=N]", help="apply a fault to every request: " + ", ".join(FAULT_KINDS))
    parser.add_argument("--base-model", action="append", default=[], metavar="NAME",
                        help="serve NAME without a chat template (chat gets vLLM's 400; completions work), repeatable")
    parser.add_argument("--trust-request-chat-template", action="store_true",
                        help="accept a chat_template in requests, like vLLM's flag of that name")
    parser.add_argument("--per-request-metrics", "--enable-per-request-metrics", action="store_true",
                        help="put timing metrics in responses, like vLLM's --enable-per-request-metrics")
    parser.add_argument("--runtime-lora", action="store_true",
                        help="serve /v1/load_lora_adapter and /v1/unload_lora_adapter, like "
                             "VLLM_ALLOW_RUNTIME_LORA_UPDATING=True (that variable works too)")
    parser.add_argument("--max-num-seqs", type=int, default=256, metavar="N",
                        help="most sequences generating at once; more requests wait (default: 256)")
    parser.add_argument("--kv-cache-tokens", type=int, default=DEFAULT_KV_CACHE_TOKENS, metavar="N",
                        help=f"KV-cache size in tokens (default: {DEFAULT_KV_CACHE_TOKENS})")
    parser.add_argument("--load", type=int, default=0, metavar="N",
                        help="keep N simulated requests from other users in the engine (a busy server)")
    return parser


def config_from_args(args: argparse.Namespace) -> SimConfig:
    """A `SimConfig` from parsed arguments; raises ValueError with a message for the user."""
    models = tuple(args.model) if args.model else DEFAULT_MODELS
    models += tuple(m for m in args.base_model if m not in models)
    loras = {}
    for spec in args.lora:
        name, sep, parent = spec.partition("=")
        if not sep or not name or not parent:
            raise ValueError(f"--lora {spec!r}: expected NAME=PARENT")
        loras[name] = parent
    if args.multimodal is None:
        multimodal = tuple(m for m in models if m == "sim-vision")
    else:
        multimodal = tuple(args.multimodal)
    unknown = [m for m in multimodal if m not in models]
    if unknown:
        raise ValueError(f"--multimodal {', '.join(unknown)}: not a served model (use --model to add it)")
    return SimConfig(
        models=models,
        api_key=args.api_key,
        tps=args.tps,
        ttft=args.ttft,
        reasoning=args.reasoning,
        reasoning_field=args.reasoning_field,
        max_model_len=args.max_model_len,
        loras=loras,
        multimodal_models=multimodal,
        limit_images=args.limit_images,
        auto_tool_choice=not args.no_auto_tool_choice,
        fault=args.fault,
        duplicate_index_tool_deltas=args.duplicate_index_tool_deltas,
        sse_keep_alive=args.sse_keep_alive,
        host=args.host,
        port=args.port,
        base_models=tuple(args.base_model),
        trust_request_chat_template=args.trust_request_chat_template,
        per_request_metrics=args.per_request_metrics,
        runtime_lora=args.runtime_lora or _env_true("VLLM_ALLOW_RUNTIME_LORA_UPDATING"),
        max_num_seqs=args.max_num_seqs,
        kv_cache_tokens=args.kv_cache_tokens,
        background_load=args.load,
    )


def _env_true(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


async def serve(config: SimConfig) -> None:
    """Serve until SIGINT or SIGTERM."""
    server = SimServer(config)
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # Windows: Ctrl+C arrives as KeyboardInterrupt
            pass
    print(f"vllm-chat-sim: serving {', '.join(config.models)} at {server.base_url} (Ctrl+C to stop)", flush=True)
    try:
        await stop.wait()
    finally:
        await server.stop()
        print("vllm-chat-sim: stopped", flush=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point of `vllm-chat-sim`."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"vllm-chat-sim: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
