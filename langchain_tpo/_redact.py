"""Keep credentials out of what the project prints and records.

A server address may carry a key (`http://user:KEY@host/v1`, `...?api_key=KEY`); results rows,
progress lines, error messages and `repr`s show it as `http://***@host/v1?api_key=***`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit, urlunsplit

HIDDEN = "***"
MIN_SECRET = 4
"""Shorter strings are not scrubbed from text: no real key is that short, and replacing them
would mangle ordinary words."""
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>`]+")


def redact_url(url: str) -> str:
    """`url` without credentials: user info and every query or fragment value become `***`.

    Query values are all hidden, not only those named like keys: a key can travel under any
    name, and a server address rarely needs its query shown.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return HIDDEN
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rpartition('@')[2]}"
    return urlunsplit(
        (parts.scheme, netloc, parts.path, _hide_values(parts.query), _hide_values(parts.fragment))
    )


def _hide_values(query: str) -> str:
    hidden = []
    for item in query.split("&") if query else []:
        name, equals, value = item.partition("=")
        if equals:
            hidden.append(f"{name}={HIDDEN}" if value else item)
        else:  # a bare token (`?KEY`)
            hidden.append(HIDDEN if name else item)
    return "&".join(hidden)


def url_secrets(url: str | None) -> list[str]:
    """The credential parts of `url` (user info, query and fragment values), to scrub from text."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return [url]
    found = []
    if "@" in parts.netloc:
        user, _, password = parts.netloc.rpartition("@")[0].partition(":")
        # A user name alone may be the key itself (`http://KEY@host`).
        found += [password] if password else [user]
    for query in (parts.query, parts.fragment):
        for item in query.split("&") if query else []:
            name, equals, value = item.partition("=")
            found.append(value if equals else name)
    # Messages may show a value percent-decoded.
    return [v for s in found if s for v in dict.fromkeys((s, unquote(s)))]


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """`text` with the given secrets replaced by `***` and credentials cut from any URL in it."""
    # Longest first, so a secret that contains another is replaced whole.
    for secret in sorted({s for s in secrets if len(s) >= MIN_SECRET}, key=len, reverse=True):
        text = text.replace(secret, HIDDEN)
    return _URL.sub(lambda m: redact_url(m.group()), text)
