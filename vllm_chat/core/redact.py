"""Keep credentials out of everything shown or stored: the password (or token) in a URL.

People put keys into base URLs (`http://user:KEY@host/v1`, `https://TOKEN@host/v1`).
The SDK needs the URL whole to send it; everything a person reads or a file keeps
gets `redact_urls()` of it instead: the status bar, error messages (on screen, on
stderr, in `--json`, in a session's error fields), exports. `ChatError` applies it
to itself, so no error can carry a key however it was built.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

HIDDEN = "***"
"""What a redacted credential is replaced with."""

# scheme://userinfo@ — userinfo ends at the first '/', '?', '#', whitespace or quote; the
# last '@' before that ends it (a password may itself contain '@').
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)([^/?#\s\"'<>]*)@")


def _hide(match: re.Match[str]) -> str:
    scheme, userinfo = match.group(1), match.group(2)
    user, colon, _ = userinfo.partition(":")
    if colon:
        return f"{scheme}{user}:{HIDDEN}@"
    return f"{scheme}{HIDDEN}@"  # a lone token in the user part is the secret itself


def redact_urls(text: str) -> str:
    """`text` with the credentials of every URL in it replaced by `***` (a user name
    stays, its password goes; a lone token in the user part goes)."""
    if "@" not in text or "://" not in text:
        return text
    return _USERINFO.sub(_hide, text)


def strip_credentials(url: str) -> str:
    """`url` without its `user:password@` part at all (for a URL stored as a field)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_urls(url)
    if "@" not in parts.netloc:
        return url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def url_host(url: str) -> str:
    """The `host[:port]` of `url` for display, without credentials (the URL itself,
    redacted, if it has no recognisable host)."""
    try:
        netloc = urlsplit(url).netloc
    except ValueError:
        netloc = ""
    return netloc.rpartition("@")[2] or redact_urls(url)
