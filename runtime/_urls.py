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

#: ``scheme://user:password@`` anywhere in a text: the password is group ``secret``.
_CREDENTIALS: Final = re.compile(
    # Up to the last ``@`` before the host: a password with a raw ``@`` (which
    # should have been written %40) is still hidden whole.
    r"(?P<head>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s:/?#@'\"]*):(?P<secret>[^\s/?#'\"]*)@"
)
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
    text = _CREDENTIALS.sub(lambda m: f"{m['head']}:{REDACTED}@" if m["secret"] else m[0], text)
    return _QUERY_PASSWORD.sub(lambda m: f"{m['head']}{REDACTED}", text)
