"""The CPUs that take a disk's completion interrupts, to measure a run alone
with its process kept on them.

A run alone waits for the disk's flush about once per step. When the flush
ends, the disk's interrupt wakes the waiting thread; if that thread last ran
on another CPU, which halted meanwhile, the interrupt's CPU must wake it with
an interprocessor interrupt, and on a virtual machine waking a halted virtual
CPU is the host's work. Linux leaves a woken thread on the CPU it last ran on
when that one is idle, so a process lands on one CPU or the other and stays:
on this machine's disk (its only queue's interrupt on CPU 1) a run alone took
0.55 ms per step kept on CPU 1 and 0.66 kept on CPU 0, in eight interleaved
repetitions of the same build. Measured both ways, the difference is where
the process ran, not what the engine did; an operator can keep a
latency-bound process on those CPUs (``taskset``), as one keeps it from
halting (:mod:`idle`).

Linux says which interrupts a PCI device raises (``msi_irqs``), how many of
each were taken (``/proc/interrupts``) and where each goes now
(``effective_affinity_list``). A disk's queues are its busy interrupts; its
configuration interrupt is all but silent.
"""

from __future__ import annotations

import os
from pathlib import Path

#: A queue's interrupt is counted with the disk's when it took at least this
#: share of the busiest one's: the configuration interrupt takes a handful.
BUSY_SHARE = 0.1


def disk_interrupt_cpus(folder: str, root: Path = Path("/")) -> frozenset[int] | None:
    """The CPUs the interrupts of the disk holding ``folder`` go to now;
    ``None`` where Linux does not say (no sysfs, a disk that is not a PCI
    device with message-signalled interrupts, a file system in memory).
    ``root``: where ``sys`` and ``proc`` are (a test's copy)."""
    device = os.stat(folder).st_dev
    return device_interrupt_cpus(os.major(device), os.minor(device), root)


def device_interrupt_cpus(major: int, minor: int, root: Path = Path("/")) -> frozenset[int] | None:
    """As :func:`disk_interrupt_cpus`, for block device ``major:minor``."""
    try:
        place = (root / f"sys/dev/block/{major}:{minor}").resolve(strict=True)
    except OSError:
        return None
    irqs = _device_irqs(place, root / "sys/devices")
    if not irqs:
        return None
    counts = _interrupt_counts(root)
    busiest = max((counts.get(irq, 0) for irq in irqs), default=0)
    if busiest == 0:
        return None
    cpus: set[int] = set()
    for irq in irqs:
        if counts.get(irq, 0) >= BUSY_SHARE * busiest:
            cpus |= _effective_cpus(irq, root)
    return frozenset(cpus) or None


def _device_irqs(place: Path, devices: Path) -> list[int]:
    """The message-signalled interrupts of the PCI function nearest above
    ``place`` in sysfs (the block device's own folder, or a partition's),
    looked for up to ``devices``. None for a function without them (legacy
    interrupts): those above it, a bridge's, are not the disk's."""
    for folder in (place, *place.parents):
        msi = folder / "msi_irqs"
        if msi.is_dir():
            return sorted(int(name) for name in os.listdir(msi) if name.isdigit())
        if (folder / "config").is_file() or folder == devices.resolve():
            break  # a PCI function's folder holds its config space
    return []


def _interrupt_counts(root: Path) -> dict[int, int]:
    """Interrupts taken so far, all CPUs together, by number."""
    counts: dict[int, int] = {}
    try:
        lines = (root / "proc/interrupts").read_text(encoding="ascii", errors="replace").splitlines()
    except OSError:
        return counts
    cpus = len(lines[0].split()) if lines else 0
    for line in lines[1:]:
        label, _, rest = line.partition(":")
        if not label.strip().isdigit():
            continue
        fields = rest.split()[:cpus]
        counts[int(label)] = sum(int(field) for field in fields if field.isdigit())
    return counts


def _effective_cpus(irq: int, root: Path) -> set[int]:
    """The CPUs interrupt ``irq`` goes to now (where it may go, if Linux
    does not say where it does)."""
    for name in ("effective_affinity_list", "smp_affinity_list"):
        try:
            text = (root / f"proc/irq/{irq}/{name}").read_text(encoding="ascii").strip()
        except OSError:
            continue
        if text:
            return _cpu_list(text)
    return set()


def _cpu_list(text: str) -> set[int]:
    """``0-2,5`` as ``{0, 1, 2, 5}``."""
    cpus: set[int] = set()
    for part in text.split(","):
        first, _, last = part.partition("-")
        cpus.update(range(int(first), int(last or first) + 1))
    return cpus


def worth_pinning(cpus: frozenset[int] | None) -> bool:
    """Whether keeping a process on ``cpus`` differs from not: they are
    some, not all, of the CPUs this process may run on."""
    if not cpus or not hasattr(os, "sched_getaffinity"):
        return False
    return cpus < os.sched_getaffinity(0)
