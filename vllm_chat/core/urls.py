"""Server addresses as they may be shown or stored: never with credentials in them.

People put keys into base URLs (`http://user:KEY@host/v1`, `https://TOKEN@host/v1`).
The SDK needs the URL whole to send it; everything a person reads or a file keeps
gets it without the key instead. `redact_url()` drops the `user:password@` part of
a URL stored as a field (a session's `base_url`); `redact_urls()` hides the
credentials of every URL inside a text (error messages on screen, on stderr, in
`--json`, in a session's error fields, exports). `ChatError` applies
`redact_urls()` to itself, so no error can carry a key however it was built.
`check_base_url()` refuses a base URL that is not one (a config value, a flag);
`root_url()` is a base URL's server root and `suggest_base_url()` the likely base URL
when the given one answered 'Not Found'.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"
"""What a credential inside a text is replaced with."""

# scheme://userinfo@ — userinfo ends at the first '/', '?', '#', whitespace or quote; the
# last '@' before that ends it (a password may itself contain '@').
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s\"'<>]*)@")


def redact_url(url: str) -> str:
    """`url` without `user:password@`, which must not be shown or stored (it may hold a key)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. an unclosed IPv6 bracket: show nothing that could hold a secret
        return url.rpartition("@")[2] if "@" in url else url
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _hide(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    user, colon, _ = userinfo.partition(":")
    if colon:
        return f"{scheme}{user}:{HIDDEN}@"
    return f"{scheme}{HIDDEN}@"  # a lone token in the user part is the secret itself


def redact_urls(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by `***` (a user name
    stays, its password goes; a lone token in the user part goes). Returns `text`
    itself when there is nothing to hide."""
    if "@" not in text or "://" not in text:
        return text
    return _USERINFO.sub(_hide, text)


def url_host(url: str) -> str:
    """The `host[:port]` of `url` for display, without credentials (the URL itself,
    redacted, if it has no recognisable host)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = ""
    return netloc.rpartition("@")[2] or redact_urls(url)


def check_base_url(value: str) -> str:
    """`value` without a trailing slash, or `ValueError` saying what is wrong with it
    (checked here so a malformed URL never reaches the status bar or the SDK)."""
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    if any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in value):
        raise ValueError("must not contain spaces or control characters")
    try:
        parts = urlsplit(value)
        host, _ = parts.hostname, parts.port  # .port raises for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"is not a valid URL ({exc}); e.g. http://localhost:8000/v1 or "
                         "http://[::1]:8000/v1") from None
    if not host:
        raise ValueError("has no host name; e.g. http://localhost:8000/v1")
    return value.rstrip("/")


def root_url(base_url: str) -> str:
    """The server root (where `/health`, `/version` and `/tokenize` live) for a base URL."""
    url = base_url.rstrip("/")
    return url.removesuffix("/v1")


def suggest_base_url(base_url: str) -> str | None:
    """A likely-correct base URL when the given one answered 'Not Found', else None.

    A `{"detail": "Not Found"}` comes from vLLM's own router, so the server is
    vLLM and its API lives at `/v1` on that host. A URL that goes on past a
    `/v1` segment (an endpoint pasted whole, e.g. `.../v1/chat/completions`)
    is cut back to that segment; anything else becomes `<host>/v1`. The
    suggestion is never the URL the user already gave.
    """
    url = base_url.strip().rstrip("/")
    match = re.match(r"^(https?://[^/?#]+)(/[^?#]*)?$", url)
    if not match:
        return None
    host, path = match.group(1), match.group(2) or ""
    candidates = []
    segment = re.search(r"/v1(?=/)", path)
    if segment:
        candidates.append(host + path[: segment.end()])
    candidates.append(f"{host}/v1")
    return next((c for c in candidates if c != url), None)
