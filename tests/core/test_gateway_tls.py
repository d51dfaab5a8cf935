"""TLS in front of the server: a private CA trusted through `ca_bundle`, `SSL_CERT_FILE` or
`REQUESTS_CA_BUNDLE`; the `insecure` opt-out (which the status says); and every certificate
problem explained as what it is (unknown CA, expired, another host's, no TLS on the port)
with whose fault it is and what to do, never a bare "connection error".

The gateway terminates TLS with a CA made by `trustme` for each test."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
import trustme

from tests.support.gateway import Gateway
from vllm_chat.core.config import ConfigError, load_settings
from vllm_chat.core.errors import ChatError, ChatErrorException
from vllm_chat.core.events import TurnFailed, TurnFinished
from vllm_chat.core.session import ChatSession
from vllm_chat.simserver import SimConfig, SimServer


@pytest.fixture(autouse=True)
def no_bundle_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """The machine's own SSL_CERT_FILE / REQUESTS_CA_BUNDLE (if any) stay out of these tests."""
    for name in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def bundle(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "company-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


async def turn_through(base_url: str, **settings: object) -> tuple[list[object], ChatSession]:
    session = ChatSession(load_settings({"base_url": base_url, **settings}))
    try:
        await session.connect()
        session.add_user_message("echo over TLS")
        return [event async for event in session.run()], session
    finally:
        await session.aclose()


async def refusal(base_url: str, **settings: object) -> ChatError:
    session = ChatSession(load_settings({"base_url": base_url, **settings}))
    try:
        with pytest.raises(ChatErrorException) as caught:
            await session.connect()
    finally:
        await session.aclose()
    assert session.connection == "error", "a certificate problem is not retried as if the server were down"
    return caught.value.error


async def test_a_private_ca_is_trusted_through_ca_bundle(ca: trustme.CA, bundle: Path) -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=ca) as gw:
        assert gw.base_url.startswith("https://")
        events, session = await turn_through(gw.base_url, ca_bundle=str(bundle))
    assert isinstance(events[-1], TurnFinished) and events[-1].message.content == "over TLS"
    assert not session.status().insecure


@pytest.mark.parametrize("variable", ["SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"])
async def test_the_usual_variables_name_the_ca_bundle_too(ca: trustme.CA, bundle: Path, variable: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, str(bundle))
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=ca) as gw:
        events, _ = await turn_through(gw.base_url)
    assert isinstance(events[-1], TurnFinished)


async def test_an_unknown_ca_says_to_pass_the_ca_bundle(ca: trustme.CA) -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=ca) as gw:
        error = await refusal(gw.base_url)
    assert error.kind == "tls" and not error.retryable
    assert "can't be verified" in error.message and "a CA this computer does not trust" in error.message
    assert "--ca-bundle FILE" in error.hint and "SSL_CERT_FILE" in error.hint and "--insecure" in error.hint


async def test_a_bundle_without_the_right_ca_is_named(ca: trustme.CA, tmp_path: Path) -> None:
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=ca) as gw:
        error = await refusal(gw.base_url, ca_bundle=str(other))
    assert error.kind == "tls" and f"The CA bundle in use ({other}) does not hold the CA" in error.message


async def test_a_turn_over_tls_fails_with_the_same_explanation(ca: trustme.CA) -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=ca) as gw:
        session = ChatSession(load_settings({"base_url": gw.base_url, "model": "sim-chat"}))
        try:
            session.add_user_message("hello")
            events = [event async for event in session.run()]
        finally:
            await session.aclose()
    assert isinstance(events[-1], TurnFailed) and events[-1].error.kind == "tls"
    assert "--ca-bundle" in events[-1].error.hint


async def test_an_expired_certificate_is_the_servers_fault(ca: trustme.CA, bundle: Path) -> None:
    expired = ca.issue_cert("127.0.0.1", not_before=datetime.datetime(2019, 1, 1),
                            not_after=datetime.datetime(2020, 1, 1))
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=ca, cert=expired) as gw:
        error = await refusal(gw.base_url, ca_bundle=str(bundle))
    assert error.kind == "tls" and "has expired: the server's fault, not yours" in error.message
    assert "renew" in error.hint and "clock" in error.hint


async def test_another_hosts_certificate_says_which_name_to_use(ca: trustme.CA, bundle: Path) -> None:
    elsewhere = ca.issue_cert("gpu.example.com")
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=ca, cert=elsewhere) as gw:
        error = await refusal(gw.base_url, ca_bundle=str(bundle))
    assert error.kind == "tls" and "issued for another name: it is not valid for 127.0.0.1" in error.message
    assert "host name the certificate names" in error.hint


async def test_https_to_a_plain_http_port_says_to_use_http() -> None:
    async with SimServer(SimConfig()) as sim:
        url = sim.base_url.replace("http://", "https://")
        error = await refusal(url)
    assert error.kind == "tls" and "does not speak TLS on that port" in error.message
    assert sim.base_url in error.hint


async def test_insecure_skips_the_check_and_the_status_says_so(ca: trustme.CA) -> None:
    async with SimServer(SimConfig()) as sim, Gateway(sim.base_url, tls=ca) as gw:
        events, session = await turn_through(gw.base_url, insecure=True)
    assert isinstance(events[-1], TurnFinished)
    assert session.status().insecure


def test_a_ca_bundle_that_is_missing_or_not_pem_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"missing\.pem \(ca_bundle\) is not a file"):
        load_settings({"ca_bundle": str(tmp_path / "missing.pem")})
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigError, match=r"junk\.pem can't be used"):
        load_settings({"ca_bundle": str(junk)})
