"""The command-line flags for reaching a server through a gateway: `--header`, `--ca-bundle`
and `--insecure`, shared by the main command and `vllm-chat server`."""

from __future__ import annotations

import argparse
from typing import Any


def add_gateway_flags(group: argparse._ArgumentGroup | argparse.ArgumentParser) -> None:
    """Add the flags to `group` (the parser's "server" group)."""
    group.add_argument("-H", "--header", action="append", metavar="'NAME: VALUE'",
                       help="an extra HTTP header for every request (repeatable; NAME=VALUE works too); "
                            "${VAR} in VALUE is read from the environment, and values are never shown or saved")
    group.add_argument("--ca-bundle", metavar="FILE",
                       help="trust the CA certificates in FILE (PEM) for the server's TLS certificate")
    group.add_argument("--insecure", action="store_true", default=None,
                       help="don't check the server's TLS certificate at all (the header warns)")


def gateway_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the flags set, shaped like the config file; raises
    `transport.TransportError` for a header that is not `NAME: VALUE`."""
    from vllm_chat.core.transport import parse_header

    out: dict[str, Any] = {}
    if args.header:
        out["headers"] = dict(parse_header(text) for text in args.header)
    if args.ca_bundle is not None:
        out["ca_bundle"] = args.ca_bundle
    if args.insecure:
        out["insecure"] = True
    return out
