"""The installed `vllm-chat` behind a gateway: `--header` (repeatable, `${VAR}` from the
environment), `--ca-bundle` and `--insecure`, a busy router waited for in one-shot mode
(up to `max_busy_wait`, then exit 1 with the reason), and `vllm-chat server` saying how
requests reach the server and checking every profile with `--all-profiles`."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import trustme

from tests.support.cli import run_vllm_chat
from tests.support.gateway import Gateway
from vllm_chat.simserver import SimConfig, SimServer

SECRET = "gw-cli-s3cret-41d2"


async def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The command, in a thread: the servers answer on this test's loop meanwhile. The
    machine's own CA-bundle and proxy variables stay out."""
    base = {k: v for k, v in os.environ.items()
            if k not in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE") and not k.lower().endswith("_proxy")}
    return await asyncio.to_thread(run_vllm_chat, *args, timeout=90, env={**base, **env})


async def test_header_flags_reach_the_gateway_and_their_values_come_from_the_environment() -> None:
    async with SimServer(SimConfig(reasoning=False)) as sim, \
            Gateway(sim.base_url, require={"X-Team": "ml", "Authorization": f"Bearer {SECRET}"}) as gw:
        result = await run("--base-url", gw.base_url, "-H", "X-Team=ml", "--header",
                           "Authorization: Bearer ${GW_TOKEN}", "-p", "echo let in", GW_TOKEN=SECRET)
        refused = await run("--base-url", gw.base_url, "-p", "echo not let in")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "let in\n"
    assert refused.returncode == 1 and "401" in refused.stderr and "--header 'Name: value'" in refused.stderr
    assert SECRET not in result.stderr + refused.stderr


async def test_a_malformed_header_or_a_missing_variable_exits_2_saying_so() -> None:
    bad = await run("-H", "no separator", "-p", "hi")
    unset = await run("-H", "Authorization: Bearer ${NOT_SET_ANYWHERE}", "-p", "hi")
    assert bad.returncode == 2 and "write it as 'Name: value'" in bad.stderr
    assert unset.returncode == 2 and "NOT_SET_ANYWHERE is not set" in unset.stderr


async def test_ca_bundle_trusts_a_private_ca_and_without_it_the_error_says_to_pass_it(tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with SimServer(SimConfig(reasoning=False)) as sim, Gateway(sim.base_url, tls=ca) as gw:
        trusted = await run("--base-url", gw.base_url, "--ca-bundle", str(bundle), "-p", "echo over TLS")
        untrusted = await run("--base-url", gw.base_url, "-p", "echo over TLS")
        insecure = await run("--base-url", gw.base_url, "--insecure", "-p", "echo unchecked")
    assert trusted.returncode == 0 and trusted.stdout == "over TLS\n", trusted.stderr
    assert untrusted.returncode == 1
    assert "can't be verified" in untrusted.stderr and "--ca-bundle FILE" in untrusted.stderr
    assert insecure.returncode == 0 and insecure.stdout == "unchecked\n"


async def test_one_shot_waits_for_a_busy_router_and_says_so() -> None:
    async with SimServer(SimConfig(reasoning=False, router_retry_after=1)) as sim:
        result = await run("--base-url", sim.base_url, "-p", "echo worth the wait sim:429=2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "worth the wait\n"
    assert result.stderr.count("[server busy (429): trying again in 1 s]") == 2


async def test_one_shot_gives_up_past_max_busy_wait_and_exits_1_with_the_reason() -> None:
    async with SimServer(SimConfig(reasoning=False, router_retry_after=30)) as sim:
        result = await run("--base-url", sim.base_url, "-p", "echo too long sim:503", VLLM_CHAT_MAX_BUSY_WAIT="5")
    assert result.returncode == 1
    assert "The server is busy (503)" in result.stderr and "it asks for 30 s more" in result.stderr
    assert "hint: vllm-chat waits up to 5 s in all (max_busy_wait" in result.stderr


async def test_server_says_how_requests_reach_it(tmp_path: Path) -> None:
    async with SimServer(SimConfig()) as sim:
        text = await run("server", "--base-url", sim.base_url, "-H", "X-Team: ml",
                         HTTPS_PROXY="http://user:pw@proxy.example:3128", NO_PROXY="localhost")
        doc = await run("server", "--base-url", sim.base_url.replace("127.0.0.1", "localhost"), "--json",
                        HTTPS_PROXY="http://proxy.example:3128", HTTP_PROXY="http://proxy.example:3128",
                        NO_PROXY="localhost")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "Proxy                none: direct (NO_PROXY=localhost)" in lines, "an http:// URL: HTTPS_PROXY is not used"
    assert "TLS                  none (plain HTTP)" in lines
    assert "Extra headers        X-Team (values hidden)" in lines
    assert doc.returncode == 0, doc.stderr
    connection = json.loads(doc.stdout)["connection"]
    assert connection["proxy"] == "none: direct (NO_PROXY=localhost)"


async def test_server_names_the_proxy_an_https_url_goes_through(tmp_path: Path) -> None:
    result = await run("server", "--base-url", "https://gpu.example.invalid/v1", "--json",
                       HTTPS_PROXY="http://user:pw@127.0.0.1:9", NO_PROXY=".internal")
    connection = json.loads(result.stdout)["connection"]
    assert connection["proxy"] == "http://127.0.0.1:9 (from HTTPS_PROXY)", "credentials never shown"
    assert connection["tls"] == "checked against the system's CAs"
    assert result.returncode == 1


async def test_all_profiles_checks_every_server_of_the_config(tmp_path: Path) -> None:
    async with SimServer(SimConfig()) as first, SimServer(SimConfig(models=("other-model",))) as second:
        config = tmp_path / "config.toml"
        config.write_text(f'[profiles.gpu-a]\nbase_url = "{first.base_url}"\nrouting_header = "x-user-id"\n'
                          f'[profiles.gpu-b]\nbase_url = "{second.base_url}"\n')
        both = await run("server", "--config", str(config), "--all-profiles")
        as_json = await run("server", "--config", str(config), "--all-profiles", "--json")
        config.write_text(config.read_text() + '[profiles.down]\nbase_url = "http://127.0.0.1:9/v1"\n')
        one_down = await run("server", "--config", str(config), "--all-profiles")
    assert both.returncode == 0, both.stderr
    out = both.stdout
    assert out.index("[gpu-a]") < out.index("sim-chat") < out.index("[gpu-b]") < out.index("other-model")
    assert "Routing header       x-user-id" in out
    docs = json.loads(as_json.stdout)
    assert [d["profile"] for d in docs] == ["gpu-a", "gpu-b"]
    assert [d["models"][0]["id"] for d in docs] == ["sim-chat", "other-model"]
    assert one_down.returncode == 1 and "[down]" in one_down.stdout
    assert "the server at http://127.0.0.1:9/v1 did not answer" in one_down.stderr


async def test_all_profiles_without_profiles_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "config.toml"
    config.write_text('base_url = "http://127.0.0.1:9/v1"\n')
    result = await run("server", "--config", str(config), "--all-profiles")
    assert result.returncode == 2 and "has no [profiles.NAME] tables" in result.stderr
