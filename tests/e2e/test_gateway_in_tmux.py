"""The installed vllm-chat in a real terminal, behind a gateway that terminates TLS with a
private CA, wants a header of its own and is busy at first: `--ca-bundle` and `--header`
get it in, the header counts down the wait, and the reply arrives."""

from __future__ import annotations

from pathlib import Path

import trustme

from tests.support.gateway import Gateway, GatewayThread


def test_a_tls_gateway_with_its_own_header_and_a_busy_router(run_app, sim_url: str, tmp_path: Path) -> None:
    ca = trustme.CA()
    bundle = tmp_path / "company-ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    gateway = Gateway(sim_url, require={"X-Team": "ml"}, tls=ca)
    with GatewayThread(gateway) as gw:
        gw.busy = [(429, 3)]
        app = run_app("--base-url", gw.base_url, "--ca-bundle", str(bundle), "-H", "X-Team: ml")
        app.wait_for(r"sim-chat .*connected")
        app.type("echo through the gateway")
        app.keys("Enter")
        app.wait_for(r"server busy, retrying in \d s")
        app.wait_for(r"█ through the gateway")
        app.keys("C-q")
        app.wait_for(r"__EXITED__ 0")
    assert [s.status for s in gw.seen if s.path.endswith("/chat/completions")] == [429, 200]
