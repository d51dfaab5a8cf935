"""How requests reach a server behind a gateway: extra headers (with secrets from the
environment, never shown), a private CA (read once while its file is unchanged), the
insecure opt-out, and which proxy a URL uses."""

from __future__ import annotations

import os
import ssl
from pathlib import Path

import pytest
import trustme

from vllm_chat.core.transport import REDACTED, Transport, TransportError, parse_header, proxy_for


def test_a_header_flag_is_name_colon_value_and_bad_ones_are_refused() -> None:
    assert parse_header("X-Team:  inference ") == ("X-Team", "inference")
    assert parse_header("X-Team=ml") == ("X-Team", "ml"), "NAME=VALUE, split at whichever comes first"
    assert parse_header("Authorization: Bearer abc==") == ("Authorization", "Bearer abc==")
    for bad, why in [("no colon", "Name: value"), ("Bad Name: x", "not a valid header name"),
                     (": x", "Name: value")]:
        with pytest.raises(TransportError, match=why):
            parse_header(bad)


def test_header_values_come_from_the_environment_and_are_never_shown() -> None:
    transport = Transport.from_settings({"Authorization": "Bearer ${GATEWAY_TOKEN}"},
                                        environ={"GATEWAY_TOKEN": "s3cret-token"})
    assert transport.headers == {"Authorization": "Bearer s3cret-token"}
    assert transport.shown_headers() == {"Authorization": REDACTED}
    assert "s3cret" not in transport.redact("curl -H 'Authorization: Bearer s3cret-token'")
    with pytest.raises(TransportError, match="GATEWAY_TOKEN is not set"):
        Transport.from_settings({"Authorization": "Bearer ${GATEWAY_TOKEN}"}, environ={})
    with pytest.raises(TransportError, match="line break"):
        Transport.from_settings({"X-A": "${V}"}, environ={"V": "a\r\nX-Injected: 1"})


def test_the_ca_bundle_comes_from_the_settings_or_the_usual_variables(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not checked until used")
    assert Transport.from_settings({}, ca_bundle=str(bundle), environ={}).ca_bundle == bundle
    assert Transport.from_settings({}, environ={"SSL_CERT_FILE": str(bundle)}).ca_bundle == bundle
    assert Transport.from_settings({}, environ={"REQUESTS_CA_BUNDLE": str(bundle)}).ca_bundle == bundle
    with pytest.raises(TransportError, match="REQUESTS_CA_BUNDLE"):
        Transport.from_settings({}, environ={"REQUESTS_CA_BUNDLE": str(tmp_path / "missing.pem")})
    assert Transport.from_settings({}, insecure=True, environ={}).ssl_context() is False


def test_the_proxy_a_url_goes_through_follows_https_proxy_and_no_proxy() -> None:
    env = {"HTTPS_PROXY": "http://proxy:3128", "NO_PROXY": "localhost,.internal"}
    assert proxy_for("https://gpu.example.com/v1", env) == "http://proxy:3128"
    assert proxy_for("https://gpu.internal/v1", env) is None
    assert proxy_for("http://localhost:8000/v1", env) is None
    assert proxy_for("http://gpu.example.com/v1", {"http_proxy": "http://p:1", "HTTP_PROXY": "http://P:2"}) \
        == "http://p:1", "the lower-case variable wins, as in curl"
    assert proxy_for("https://x/v1", {}) is None


def test_copies_read_every_header_value_from_the_environment() -> None:
    transport = Transport.from_settings({"Authorization": "Bearer ${GATEWAY_TOKEN}", "X-Team": "ml"},
                                        environ={"GATEWAY_TOKEN": "s3cret-token"})
    assert transport.copy_headers() == {"Authorization": "Bearer ${GATEWAY_TOKEN}",
                                        "X-Team": "${VLLM_CHAT_HEADER_X_TEAM}"}


def test_the_connection_facts_name_the_proxy_tls_and_headers_but_no_secret(tmp_path: Path) -> None:
    from vllm_chat.core.transport import connection_facts

    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    transport = Transport.from_settings({"X-Key": "${K}"}, ca_bundle=str(bundle), routing_header="x-user-id",
                                        environ={"K": "s3cret-value"})
    env = {"HTTPS_PROXY": "http://user:pw@proxy:3128"}
    facts = dict(connection_facts(transport, "https://gpu.example.com/v1", env))
    assert facts == {"Proxy": "http://proxy:3128 (from HTTPS_PROXY)", "TLS": f"checked against {bundle}",
                     "Extra headers": "X-Key (values hidden)", "Routing header": "x-user-id"}
    insecure = Transport.from_settings({}, insecure=True, environ={})
    assert dict(connection_facts(insecure, "https://gpu/v1", {}))["TLS"] == "certificates NOT checked (insecure)"


def test_a_ca_bundle_is_read_once_while_unchanged_and_again_once_rewritten(tmp_path: Path) -> None:
    # Reading a system bundle takes 40 ms or more; the check at start and every HTTP client share one.
    bundle = tmp_path / "ca.pem"
    trustme.CA().cert_pem.write_to_path(str(bundle))
    first = Transport.from_settings({}, ca_bundle=str(bundle), environ={}).ssl_context()
    assert Transport.from_settings({}, environ={"SSL_CERT_FILE": str(bundle)}).ssl_context() is first

    trustme.CA().cert_pem.write_to_path(str(bundle))  # another CA in the same file
    later = bundle.stat().st_mtime_ns + 1_000_000_000
    os.utime(bundle, ns=(later, later))
    renewed = Transport.from_settings({}, ca_bundle=str(bundle), environ={}).ssl_context()
    assert renewed is not first
    assert isinstance(first, ssl.SSLContext) and isinstance(renewed, ssl.SSLContext)
    assert renewed.get_ca_certs() != first.get_ca_certs()


def test_a_ca_bundle_that_cannot_be_parsed_is_refused_every_time_until_it_is_mended(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate\n")
    transport = Transport.from_settings({}, ca_bundle=str(bundle), environ={})
    for _ in range(2):
        with pytest.raises(TransportError, match="can't be used"):
            transport.ssl_context()
    trustme.CA().cert_pem.write_to_path(str(bundle))
    later = bundle.stat().st_mtime_ns + 1_000_000_000
    os.utime(bundle, ns=(later, later))
    assert isinstance(transport.ssl_context(), ssl.SSLContext)
