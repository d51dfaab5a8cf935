"""How requests reach the server: extra headers, TLS trust, proxies and a routing key.

One `Transport` is built from the settings and used for every request the app
makes to a server (the model list, chat, `/tokenize`, `/metrics`): the SDK
gets an HTTP client built from `http_client_options()`, and the app's own requests go
through that same client, so a gateway sees the same headers and the same
certificate checks everywhere.

- Headers come from the profile's `headers` table and `--header 'Name: value'`;
  a value may be `${ENV_VAR}` (or contain it), so secrets stay out of the file.
  `shown_headers()` is what may be displayed or copied: values redacted.
- TLS: `ca_bundle` (or `SSL_CERT_FILE`, or `REQUESTS_CA_BUNDLE`, as other tools
  read them) adds a private CA; `insecure = true` turns checking off, and the
  header says so. The CA bundle is parsed once per process while the file is
  unchanged (`ssl_context`): a system bundle of ~150 certificates takes 40 ms
  or more to read, and the settings' check at start and every HTTP client made
  later used to read it again.
- Proxies: `HTTPS_PROXY` / `HTTP_PROXY` / `NO_PROXY` from the environment, as
  httpx reads them; `proxy_for` says which one a URL goes through.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:  # pragma: no cover
    import ssl

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
"""An HTTP header name (RFC 9110 token)."""
REDACTED = "•••"
"""What a header value looks like wherever it is shown or copied."""


@functools.lru_cache(maxsize=4)
def _verifying_context(cafile: str, version: tuple[int, int, int]) -> ssl.SSLContext:
    """An SSL context trusting `cafile` as it is at `version` (inode, size, mtime): made once,
    shared by every client (a file that can't be read or parsed raises, and is tried again)."""
    import ssl  # here: most starts never need TLS

    return ssl.create_default_context(cafile=cafile)


class TransportError(Exception):
    """A header, CA bundle or proxy setting that can't be used, phrased for the user."""


def parse_header(text: str) -> tuple[str, str]:
    """`'Name: value'` or `Name=value` (as `--header` takes it) as (name, value), split at
    whichever comes first; `TransportError` if malformed."""
    cut = min((i for i in (text.find(":"), text.find("=")) if i >= 0), default=-1)
    name, value = (text[:cut].strip(), text[cut + 1:].strip()) if cut >= 0 else ("", "")
    if not name:
        raise TransportError(f"--header {text!r}: write it as 'Name: value'.")
    check_header(name, value, f"--header {text!r}")
    return name, value


def check_header(name: str, value: str, where: str) -> None:
    """Refuse a header name that isn't a token, and a value with line breaks (header injection)."""
    if not _TOKEN.match(name):
        raise TransportError(f"{where}: {name!r} is not a valid header name.")
    if "\r" in value or "\n" in value or "\x00" in value:
        raise TransportError(f"{where}: the value of {name} holds a line break or NUL.")


def expand_header(name: str, value: str, environ: Mapping[str, str]) -> str:
    """`value` with every `${VAR}` replaced from `environ`; `TransportError` naming a
    variable that isn't set (a missing secret should stop the app, not send an empty one)."""
    def fill(match: re.Match[str]) -> str:
        variable = match.group(1)
        if variable not in environ:
            raise TransportError(f"The header {name} wants ${{{variable}}}, but {variable} is not set in the "
                                 "environment.")
        return environ[variable]

    expanded = _ENV_REF.sub(fill, value)
    check_header(name, expanded, f"the header {name}")
    return expanded


@dataclass(frozen=True)
class Transport:
    """Headers, TLS trust and proxies for one server."""

    headers: dict[str, str] = field(default_factory=dict)
    """Extra headers sent with every request (values resolved: they may be secrets)."""
    ca_bundle: Path | None = None
    """A file of CA certificates to trust (besides none: it replaces the system's)."""
    insecure: bool = False
    """Certificates are not checked at all."""
    routing_header: str | None = None
    """The header that carries a conversation's routing key (None: no routing key)."""
    templates: dict[str, str] = field(default_factory=dict)
    """The header values as the settings wrote them (`${VAR}` not expanded), for copies."""

    @classmethod
    def from_settings(cls, headers: Mapping[str, str], *, ca_bundle: str | None = None, insecure: bool = False,
                      routing_header: str | None = None,
                      environ: Mapping[str, str] | None = None) -> Transport:
        """The transport the settings describe (`${VAR}` expanded from `environ`); raises
        `TransportError` for a header that can't be sent or a CA bundle that can't be read."""
        env = os.environ if environ is None else environ
        resolved = {name: expand_header(name, value, env) for name, value in headers.items()}
        bundle_text = ca_bundle or env.get("SSL_CERT_FILE") or env.get("REQUESTS_CA_BUNDLE") or None
        bundle = Path(bundle_text).expanduser() if bundle_text else None
        if bundle is not None and not insecure and not bundle.is_file():
            origin = "ca_bundle" if ca_bundle else ("SSL_CERT_FILE" if env.get("SSL_CERT_FILE") else
                                                    "REQUESTS_CA_BUNDLE")
            raise TransportError(f"The CA bundle {bundle} ({origin}) is not a file that can be read.")
        if routing_header is not None:
            check_header(routing_header, "x", "routing_header")
        return cls(resolved, bundle, insecure, routing_header, dict(headers))

    def ssl_context(self) -> ssl.SSLContext | bool:
        """What the HTTP client verifies certificates with (False: it doesn't)."""
        import ssl  # here: the settings are loaded on every start, most never need TLS

        if self.insecure:
            return False
        if self.ca_bundle is not None:
            try:
                st = self.ca_bundle.stat()
                return _verifying_context(str(self.ca_bundle), (st.st_ino, st.st_size, st.st_mtime_ns))
            except (OSError, ssl.SSLError) as exc:
                raise TransportError(f"The CA bundle {self.ca_bundle} can't be used: {exc}.") from None
        return True

    def http_client_options(self) -> dict[str, Any]:
        """Keyword arguments for the HTTP client every request goes through."""
        return {"headers": dict(self.headers), "verify": self.ssl_context(), "trust_env": True}

    def shown_headers(self) -> dict[str, str]:
        """The extra headers as they may be shown or copied: values redacted."""
        return dict.fromkeys(self.headers, REDACTED)

    def copy_headers(self) -> dict[str, str]:
        """The extra headers as a copied command or script may write them: every value as
        environment variables (`${VAR}`), the one the settings used when they used one,
        else `${VLLM_CHAT_HEADER_<NAME>}`, so a copy runs without holding a secret."""
        out = {}
        for name in self.headers:
            template = self.templates.get(name, "")
            out[name] = template if _ENV_REF.search(template) else "${" + header_variable(name) + "}"
        return out

    def redact(self, text: str) -> str:
        """`text` with every header value (and the routing header's name kept) blanked out."""
        for value in self.headers.values():
            if len(value) >= 4:
                text = text.replace(value, REDACTED)
        return text


def header_variable(name: str) -> str:
    """The environment variable a copied command reads a header's value from, when the
    settings gave the value itself (`X-Team` -> `VLLM_CHAT_HEADER_X_TEAM`)."""
    return "VLLM_CHAT_HEADER_" + re.sub(r"[^A-Za-z0-9]", "_", name).upper()


def env_references(text: str) -> list[str]:
    """The environment variables `text` refers to as `${VAR}`, in order."""
    return _ENV_REF.findall(text)


def proxy_for(url: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The proxy a request to `url` goes through, as the environment says (HTTPS_PROXY,
    HTTP_PROXY, ALL_PROXY, with NO_PROXY), or None for a direct connection."""
    found = proxy_setting(url, environ)
    return found[0] if found is not None else None


def proxy_setting(url: str, environ: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """The proxy a request to `url` goes through and the variable that says so
    (`("http://proxy:3128", "HTTPS_PROXY")`), or None for a direct connection."""
    from urllib.request import proxy_bypass_environment  # type: ignore[attr-defined]  # real, not in typeshed

    env = os.environ if environ is None else environ
    proxies: dict[str, tuple[str, str]] = {}
    for name in sorted(env, key=str.islower):  # lower-case names win, as curl and httpx have it
        if name.lower().endswith("_proxy") and env[name]:
            proxies[name.lower()[:-len("_proxy")]] = (env[name], name)
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host and "no" in proxies and proxy_bypass_environment(host, {k: v[0] for k, v in proxies.items()}):
        return None
    return proxies.get(parts.scheme) or proxies.get("all")


def connection_facts(transport: Transport, base_url: str,
                     environ: Mapping[str, str] | None = None) -> list[tuple[str, str]]:
    """How requests reach `base_url`, as (label, value) lines for `vllm-chat server`: the
    proxy (and the variable naming it), TLS trust, the extra headers (names only) and the
    routing header. Nothing secret: a proxy's credentials are left out too."""
    from vllm_chat.core.urls import redact_url

    env = os.environ if environ is None else environ
    proxy = proxy_setting(base_url, env)
    no_proxy = next((env[n] for n in ("no_proxy", "NO_PROXY") if env.get(n)), "")
    if proxy is not None:
        route = f"{redact_url(proxy[0])} (from {proxy[1]})"
    else:
        route = "none: direct" + (f" (NO_PROXY={no_proxy})" if no_proxy else "")
    if not base_url.startswith("https://"):
        tls = "none (plain HTTP)"
    elif transport.insecure:
        tls = "certificates NOT checked (insecure)"
    elif transport.ca_bundle is not None:
        tls = f"checked against {transport.ca_bundle}"
    else:
        tls = "checked against the system's CAs"
    headers = ", ".join(transport.headers) + " (values hidden)" if transport.headers else "none"
    return [("Proxy", route), ("TLS", tls), ("Extra headers", headers),
            ("Routing header", transport.routing_header or "none")]
