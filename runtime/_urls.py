"""Database URLs as wfc prints them: never with a password.

:func:`redact_url` is the one function every message that may name a
database goes through: the errors that carry a location
(:class:`~wfc.runtime.errors.StoreError`,
:class:`~wfc.runtime.errors.UnsupportedUrlError`) apply it when they are made,
and the CLI applies it to every URL it shows.
"""

from __future__ import annotations

import re
from typing import Final

#: ``scheme://user:`` anywhere in a text, and the rest of that URL (up to a
#: space or a quote): the password, if any, is at the start of ``rest``.
_CREDENTIALS: Final = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@'\"]*):(?P<rest>[^\s'\"]*)")
#: ``?password=...`` / ``&sslpassword=...`` query parameters (libpq reads them).
#: A ``:`` that ends the URL in a message (``... ?password=x: cannot connect``) is not part of it.
_QUERY_PASSWORD: Final = re.compile(
    r"(?P<head>[?&](?:ssl)?password=)(?P<secret>[^&#\s'\"]*?)(?=[&#\s'\"]|:\s|:$|$)", re.IGNORECASE
)

REDACTED: Final = "***"
"""What a password is shown as."""


def redact_url(text: str) -> str:
    """``text`` (a URL, or a message naming URLs) with every password in a
    URL replaced by ``***``: ``postgresql://app:***@db:5432/orders``.
    Anything else, SQLite paths included, is left as it is."""
    text = _CREDENTIALS.sub(_hide_password, text)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}", text)


def _hide_password(match: re.Match[str]) -> str:
    rest = match["rest"]
    end = _password_end(rest)
    if not end:  # no "@": what follows "user:" is a port, not a password (or the password is empty)
        return match[0]
    return f"{match['head']}:{REDACTED}{rest[end:]}"


def _password_end(rest: str) -> int | None:
    """Where the password ends in ``rest``, the part of a URL after
    ``scheme://user:`` (the index of the ``@`` before the host); ``None``
    when there is no ``@``, so no password.

    A URL parses cleanly when its first ``@`` comes before any ``/``, ``?``
    or ``#`` and no other ``@`` follows outside the query: the password ends
    there. Otherwise the password may hold one of those characters unescaped
    (``app:top/secret@db``, ``app:pa#ss@db``, ``app:p@ss@db``), and where it
    ends cannot be told: everything up to the last ``@`` is taken for it, so
    no part of it is ever shown (at worst a piece of the host or path is
    hidden with it)."""
    first = rest.find("@")
    if first < 0:
        return None
    if not any(mark in rest[:first] for mark in "/?#") and "@" not in without_query(rest[first + 1 :]):
        return first
    return rest.rfind("@")


def without_query(text: str) -> str:
    """``text`` (a part of a URL after its address or its ``@``) without its
    query: an ``@`` there (``?options=...@...``) is a parameter's, not a
    password's."""
    query = text.find("?")
    fragment = text.find("#")
    if query < 0 or 0 <= fragment < query:
        return text
    end = text.find("#", query)
    return text[:query] + (text[end:] if end >= 0 else "")
