"""Certificate and TLS failures, explained: whose fault each is and what to do.

The SDK reports every one of them as a plain "Connection error."; the reason is
further down the chain of exceptions (an `ssl.SSLCertVerificationError` with
OpenSSL's verify code, or an `ssl.SSLError` such as `WRONG_VERSION_NUMBER`).
`tls_problem` finds it and says, in the app's words, what happened.
"""

from __future__ import annotations

import ssl
from pathlib import Path
from urllib.parse import urlsplit

from vllm_chat.core.errors import ChatError

UNKNOWN_ISSUER = {2, 18, 19, 20, 21}
"""OpenSSL verify codes for a certificate no trusted CA vouches for (issuer unknown,
self-signed, a self-signed CA in the chain, the leaf's signature unverifiable)."""
EXPIRED, NOT_YET_VALID = 10, 9
WRONG_NAME = {62, 64}
"""Host name or IP address mismatch."""
INSECURE_HINT = "--insecure (insecure = true) skips the check, but then anyone in between can read the chat."


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and all(node is not s for s in seen):
        seen.append(node)
        node = node.__cause__ or node.__context__
    return seen


def tls_problem(exc: BaseException, *, base_url: str, ca_bundle: Path | None = None) -> ChatError | None:
    """What went wrong with TLS when `exc` (a connection failure) is a TLS failure, else
    None. `ca_bundle`: the CA file in use, if any (named when it lacks the right CA)."""
    chain = _chain(exc)
    host = urlsplit(base_url).hostname or base_url
    verify = next((e for e in chain if isinstance(e, ssl.SSLCertVerificationError)), None)
    if verify is not None:
        return _verify_failed(verify, host, ca_bundle)
    other = next((e for e in chain if isinstance(e, ssl.SSLError)), None)
    if other is not None and "WRONG_VERSION_NUMBER" in str(other):
        return ChatError(
            "tls",
            f"{host} does not speak TLS on that port: the base URL says https://, the server answers plain HTTP.",
            f"Use http:// in the base URL ({base_url.replace('https://', 'http://', 1)}), or the server's "
            "HTTPS port.",
            details={"url": base_url},
        )
    if other is not None:
        return ChatError("tls", f"The TLS handshake with {host} failed: {other.reason or other}.",
                         "Check that the base URL's port serves HTTPS, and the proxy settings "
                         "(HTTPS_PROXY, NO_PROXY).", details={"url": base_url})
    return None


def _verify_failed(error: ssl.SSLCertVerificationError, host: str, ca_bundle: Path | None) -> ChatError:
    code = error.verify_code
    said = error.verify_message or str(error)
    if code in UNKNOWN_ISSUER:
        where = (f"The CA bundle in use ({ca_bundle}) does not hold the CA that issued it"
                 if ca_bundle is not None else "It comes from a CA this computer does not trust (a private or "
                 "company CA?)")
        return ChatError(
            "tls",
            f"{host}'s TLS certificate can't be verified: {said}. {where}.",
            "Get the CA's certificate (PEM) and pass it with --ca-bundle FILE (or ca_bundle in the config, "
            f"or SSL_CERT_FILE). {INSECURE_HINT}",
            details={"verify_code": code},
        )
    if code in (EXPIRED, NOT_YET_VALID):
        when = "has expired" if code == EXPIRED else "is not valid yet"
        return ChatError(
            "tls",
            f"{host}'s TLS certificate {when}: the server's fault, not yours.",
            "Ask the server's administrator to renew it (and check this computer's clock). "
            + INSECURE_HINT,
            details={"verify_code": code},
        )
    if code in WRONG_NAME:
        return ChatError(
            "tls",
            f"{host}'s TLS certificate was issued for another name: it is not valid for {host}.",
            "Use the host name the certificate names in the base URL (often the DNS name rather than an IP "
            f"address), or ask the administrator for a certificate that names {host}. {INSECURE_HINT}",
            details={"verify_code": code},
        )
    return ChatError("tls", f"{host}'s TLS certificate was refused: {said}.",
                     f"Check the certificate with the server's administrator. {INSECURE_HINT}",
                     details={"verify_code": code})
