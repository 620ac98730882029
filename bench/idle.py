"""The machine's idle CPUs kept from halting while one measurement runs.

On a virtual machine whose idle CPUs halt at once (here cpuidle ``haltpoll``
with ``guest_halt_poll_ns=0``), every wait for the disk's flush leaves the
CPU idle, and the work after it starts on a CPU woken from a halt, its caches
cold. Linux's PM QoS lets a process ask that no CPU enter an idle state slower
to leave than a given latency, for as long as it holds
``/dev/cpu_dma_latency`` open; asked for 0 µs, the idle loop polls instead of
halting. That is what tuned's ``latency-performance`` profile sets on
machines tuned for latency. Measured with and without, the difference is the
machine's cost of waking, not the engine's.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

QOS_DEVICE = "/dev/cpu_dma_latency"


def can_keep_cpus_from_halting() -> bool:
    """Whether this process may hold a PM QoS request (the device exists
    and is writable: root, or a udev rule that allows it)."""
    return os.access(QOS_DEVICE, os.W_OK)


@contextmanager
def cpus_kept_from_halting() -> Iterator[bool]:
    """Hold a PM QoS request of 0 µs for the block, for every process of the
    machine (a child measured inside it included). Yields whether the kernel
    took it; if not, nothing changes."""
    try:
        fd = os.open(QOS_DEVICE, os.O_WRONLY)
    except OSError:
        yield False
        return
    try:
        try:
            os.write(fd, struct.pack("i", 0))
        except OSError:
            yield False
            return
        yield True
    finally:
        os.close(fd)  # the request ends with the last open descriptor


def idle_settings() -> dict[str, str | None]:
    """How this machine's idle CPUs wait (``None`` where Linux does not say):
    the cpuidle driver and governor, and how long haltpoll polls first."""
    files = {
        "cpuidle_driver": "/sys/devices/system/cpu/cpuidle/current_driver",
        "cpuidle_governor": "/sys/devices/system/cpu/cpuidle/current_governor_ro",
        "guest_halt_poll_ns": "/sys/module/haltpoll/parameters/guest_halt_poll_ns",
    }
    found: dict[str, str | None] = {}
    for name, path in files.items():
        try:
            found[name] = Path(path).read_text(encoding="ascii").strip()
        except OSError:
            found[name] = None
    return found
