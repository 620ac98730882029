"""Who may call the API: bearer tokens, and where the server may listen.

* Without tokens the API is open to whoever can connect, so the server
  listens on a loopback address only (:func:`check_bind`).
* With a token, every endpoint under ``/api/v1`` except the OpenAPI
  document needs ``Authorization: Bearer <token>``. A read-only token, if
  given, is accepted for reads (GET) and refused (403) for changes.
* ``/healthz`` and ``/readyz`` need no token: probes must reach them, and
  they say nothing about runs.
* Without tokens, a web page the operator's browser shows must not reach
  the API either: requests must name the server by a loopback address in
  ``Host`` (a page of another site whose name resolves to 127.0.0.1, DNS
  rebinding, names its own), and a change must not come from a page of
  another origin (``Origin``; a browser sends it with every cross-site
  ``POST``, and a form needs no permission to send one). With a token
  neither can happen: a browser never adds the bearer token on its own.

Tokens are compared in constant time (:func:`hmac.compare_digest`) and never
logged or echoed.
"""

from __future__ import annotations

import hmac
import ipaddress
from dataclasses import dataclass

from wfc.specs.errors import WfcError

#: Host names taken for loopback without resolving them.
_LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


class AccessError(WfcError):
    """The server's access settings are unsafe or inconsistent."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    name = host.strip().strip("[]").lower()
    if name in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def check_bind(host: str, token: str | None, read_token: str | None) -> None:
    """Refuse settings that would expose the API.

    Raises:
        AccessError: a non-loopback ``host`` without a token, an empty token,
            or a read-only token without a token.
    """
    for option, value in (("--token", token), ("--read-token", read_token)):
        if value is not None and not value.strip():
            raise AccessError(f"{option} is empty; give a long random secret, e.g. from `openssl rand -hex 32`")
    if read_token is not None and token is None:
        raise AccessError(
            "--read-token needs --token too: the read-only token is for reads, the token for changes; "
            "give both (e.g. from `openssl rand -hex 32`)"
        )
    if token is not None and read_token is not None and hmac.compare_digest(token.encode(), read_token.encode()):
        raise AccessError("--read-token is the same as --token; give a different secret for read-only access")
    if token is None and not is_loopback(host):
        raise AccessError(
            f"refusing to listen on {host} without a token: anyone who can reach it could start, cancel and "
            f"read runs. Give --token (or $WFC_SERVER_TOKEN) with a long random secret, e.g. from "
            f"`openssl rand -hex 32`, or listen on 127.0.0.1"
        )


def host_name(authority: str) -> str:
    """The host of a ``Host`` header or of an origin's authority, without
    its port: ``[::1]:8787`` → ``::1``, ``localhost:8787`` → ``localhost``."""
    authority = authority.strip()
    if authority.startswith("["):
        return authority[1:].partition("]")[0]
    return authority.rpartition(":")[0] if authority.count(":") == 1 else authority


def origin_authority(origin: str) -> str | None:
    """The ``host:port`` of an ``Origin`` header (``http://localhost:8787``);
    ``None`` for ``null`` (a sandboxed page, a file) or anything else."""
    scheme, separator, authority = origin.strip().partition("://")
    if not separator or scheme.lower() not in ("http", "https") or not authority or "/" in authority:
        return None
    return authority.lower()


@dataclass(frozen=True)
class Tokens:
    """The tokens a server accepts; no token: everything is open."""

    token: str | None = None
    read_token: str | None = None

    @property
    def required(self) -> bool:
        """Whether requests need a token."""
        return self.token is not None

    def grant(self, authorization: str | None) -> str | None:
        """What the ``Authorization`` header allows: ``"write"`` (reads
        too), ``"read"``, or ``None`` (no or a wrong token)."""
        if self.token is None:
            return "write"
        scheme, _, presented = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not presented.strip():
            return None
        given = presented.strip().encode()
        # Both compared every time, so timing tells nothing about which matched.
        write = hmac.compare_digest(given, self.token.encode())
        read = self.read_token is not None and hmac.compare_digest(given, self.read_token.encode())
        if write:
            return "write"
        return "read" if read else None
