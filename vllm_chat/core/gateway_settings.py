"""The settings for reaching a server through a gateway, router or proxy: extra headers,
TLS trust, the routing key's header, and how long to wait for a busy server.

They are top-level keys that a `[profiles.NAME]` table can set too (a profile per
cluster); `Settings` inherits them from `GatewaySettings`. `transport_of` turns them
into the `Transport` every request goes through.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import BaseModel, Field, field_validator

from vllm_chat.core.transport import Transport, TransportError, check_header


class GatewaySettings(BaseModel):
    """Headers, TLS, the routing header and the busy-server wait (see the module docstring)."""

    headers: dict[str, str] = Field(default_factory=dict)
    """`[headers]`: extra HTTP headers sent with every request to the server (models, chat,
    /tokenize, /metrics), e.g. `X-Team = "ml"`. A value may use `${ENV_VAR}`, so a secret
    stays out of the file: `Authorization = "Bearer ${GATEWAY_TOKEN}"`. Values are never
    shown, copied or saved (`--header 'Name: value'` adds one from the command line)."""
    ca_bundle: str | None = None
    """A PEM file of CA certificates to trust instead of the system's (a private CA in front
    of the server). Unset: `SSL_CERT_FILE`, then `REQUESTS_CA_BUNDLE`, then the system's."""
    insecure: bool = False
    """Don't check the server's TLS certificate at all (the header says so while it is on).
    Prefer `ca_bundle`: anyone between you and the server could read and change the chat."""
    routing_header: str | None = None
    """A header that carries a routing key per conversation (the conversation's id), for a
    router that keeps a conversation on one replica and its KV cache warm (production-stack's
    session router: `x-user-id`; Caddy/Envoy header hashing). Sent on every request of a
    conversation's turns, never on side requests (titles, compaction, counting). Unset: none."""
    max_busy_wait: float = Field(default=120.0, ge=0)
    """Most seconds a turn waits, in all, for a busy server (429 or 503 with `Retry-After`)
    before it fails; the request is sent again when the server says (0: fail at once)."""

    @field_validator("headers")
    @classmethod
    def _header_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name, text in value.items():
            try:
                check_header(name, text, "headers")
            except TransportError as exc:
                raise ValueError(str(exc).removeprefix("headers: ")) from None
        return value

    @field_validator("routing_header")
    @classmethod
    def _routing_name(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                check_header(value, "x", "routing_header")
            except TransportError as exc:
                raise ValueError(str(exc).removeprefix("routing_header: ")) from None
        return value


def transport_of(settings: GatewaySettings, environ: Mapping[str, str] | None = None) -> Transport:
    """The transport the settings describe (`${VAR}` in header values expanded from
    `environ`, default the process's); raises `TransportError` saying what can't be used."""
    return Transport.from_settings(settings.headers, ca_bundle=settings.ca_bundle, insecure=settings.insecure,
                                   routing_header=settings.routing_header, environ=environ)
