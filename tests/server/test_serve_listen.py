"""Where ``wfc server`` cannot listen, it says why and what to give instead."""

from __future__ import annotations

import socket

import pytest

from wfc.cli.errors import CliError
from wfc.server._serve import _listen


def test_a_port_in_use_is_named_as_taken() -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        with pytest.raises(CliError, match="is another server on that port"):
            _listen("127.0.0.1", taken.getsockname()[1])
    finally:
        taken.close()


def test_an_address_this_machine_does_not_have_is_named_as_such() -> None:
    # 192.0.2.0/24 is TEST-NET-1: documentation only, never a host's address.
    with pytest.raises(CliError, match="not one of this machine's; give one it has") as raised:
        _listen("192.0.2.1", 8787)
    assert "another server" not in str(raised.value)
