"""Which CPUs the bench keeps a run alone on (bench/placement.py): read off a
copy of sysfs and procfs laid out as Linux lays them out for a virtio disk."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]

INTERRUPTS = """\
           CPU0       CPU1
 35:          0          1 PCI-MSIX-0000:00:02.0   0-edge      virtio1-config
 36:          0     118445 PCI-MSIX-0000:00:02.0   1-edge      virtio1-req.0
 37:      52000      60000 PCI-MSIX-0000:00:02.0   2-edge      virtio1-req.1
 40:     900000          0 PCI-MSIX-0000:00:03.0   0-edge      virtio2-input.0
NMI:          0          0   Non-maskable interrupts
"""


def _placement() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_placement", ROOT / "bench" / "placement.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


placement = _placement()


def _machine(root: Path, *, effective: dict[int, str], interrupts: str = INTERRUPTS) -> None:
    """A disk vda (254:0) and its partition vda1 (254:1) on PCI function
    0000:00:02.0, whose interrupts are 35-37, and a network card beside."""
    function = root / "sys/devices/pci0000:00/0000:00:02.0"
    disk = function / "virtio1/block/vda"
    (disk / "vda1").mkdir(parents=True)
    (function / "msi_irqs").mkdir()
    for irq in (35, 36, 37):
        (function / "msi_irqs" / str(irq)).write_text("msix\n")
    other = root / "sys/devices/pci0000:00/0000:00:03.0"
    (other / "msi_irqs").mkdir(parents=True)
    (other / "msi_irqs/40").write_text("msix\n")
    links = root / "sys/dev/block"
    links.mkdir(parents=True)
    (links / "254:0").symlink_to(disk)
    (links / "254:1").symlink_to(disk / "vda1")
    (root / "proc").mkdir()
    (root / "proc/interrupts").write_text(interrupts)
    for irq in (35, 36, 37, 40):
        (root / f"proc/irq/{irq}").mkdir(parents=True)
        (root / f"proc/irq/{irq}/smp_affinity_list").write_text("0-1\n")
        if irq in effective:
            (root / f"proc/irq/{irq}/effective_affinity_list").write_text(effective[irq] + "\n")


def test_the_disks_busy_queues_give_the_cpus_and_its_silent_configuration_interrupt_does_not(tmp_path: Path) -> None:
    _machine(tmp_path, effective={35: "0", 36: "1", 37: "3", 40: "0"})
    # 37 took 112,000, more than a tenth of 36's 118,445: both queues count; 35 took 1 and does not.
    assert placement.device_interrupt_cpus(254, 0, tmp_path) == frozenset({1, 3})
    # A partition is on the same disk.
    assert placement.device_interrupt_cpus(254, 1, tmp_path) == frozenset({1, 3})


def test_a_quiet_queue_is_left_out_and_a_missing_effective_affinity_falls_back_to_the_allowed_one(
    tmp_path: Path,
) -> None:
    quiet = INTERRUPTS.replace("52000      60000", "    5          6")
    _machine(tmp_path, effective={36: "1"}, interrupts=quiet)
    assert placement.device_interrupt_cpus(254, 0, tmp_path) == frozenset({1})
    (tmp_path / "proc/irq/36/effective_affinity_list").unlink()
    assert placement.device_interrupt_cpus(254, 0, tmp_path) == frozenset({0, 1})


def test_linux_not_saying_gives_none(tmp_path: Path) -> None:
    _machine(tmp_path, effective={36: "1"})
    assert placement.device_interrupt_cpus(254, 7, tmp_path) is None  # no such device
    assert placement.device_interrupt_cpus(254, 0, tmp_path / "elsewhere") is None  # no sysfs at all
    silent = INTERRUPTS.replace("118445", "0").replace("52000      60000", "    0          0")
    (tmp_path / "proc/interrupts").write_text(silent.replace("          1 PCI", "          0 PCI"))
    assert placement.device_interrupt_cpus(254, 0, tmp_path) is None  # the disk took no interrupt yet


def test_a_disk_without_message_signalled_interrupts_is_not_given_its_bridges(tmp_path: Path) -> None:
    # An NVMe disk on legacy interrupts behind a root port that has MSI of its own (hotplug, PME).
    port = tmp_path / "sys/devices/pci0000:00/0000:00:1c.0"
    function = port / "0000:02:00.0"
    disk = function / "nvme/nvme0/nvme0n1"
    disk.mkdir(parents=True)
    (function / "config").write_bytes(b"\0" * 64)
    (port / "config").write_bytes(b"\0" * 64)
    (port / "msi_irqs").mkdir()
    (port / "msi_irqs/24").write_text("msi\n")
    (tmp_path / "sys/dev/block").mkdir(parents=True)
    (tmp_path / "sys/dev/block/259:0").symlink_to(disk)
    (tmp_path / "proc/irq/24").mkdir(parents=True)
    header = "           CPU0       CPU1\n"
    (tmp_path / "proc/interrupts").write_text(header + " 24:        500          0   PCI-MSI  pcieport\n")
    (tmp_path / "proc/irq/24/effective_affinity_list").write_text("0\n")
    assert placement.device_interrupt_cpus(259, 0, tmp_path) is None
    # With MSI of its own, the disk's queues are found through the nvme class folders.
    (function / "msi_irqs").mkdir()
    (function / "msi_irqs/40").write_text("msix\n")
    (tmp_path / "proc/irq/40").mkdir()
    (tmp_path / "proc/irq/40/effective_affinity_list").write_text("1\n")
    interrupts = (tmp_path / "proc/interrupts").read_text() + " 40:          0       9000   PCI-MSIX nvme0q1\n"
    (tmp_path / "proc/interrupts").write_text(interrupts)
    assert placement.device_interrupt_cpus(259, 0, tmp_path) == frozenset({1})
    (tmp_path / "proc/interrupts").unlink()
    assert placement.device_interrupt_cpus(259, 0, tmp_path) is None  # no counts: nothing known


def test_a_folder_in_memory_has_no_disk() -> None:
    if not Path("/dev/shm").is_dir():
        pytest.skip("this machine has no /dev/shm")
    assert placement.disk_interrupt_cpus("/dev/shm") is None


def test_cpu_lists_read_as_linux_writes_them() -> None:
    assert placement._cpu_list("0-2,5") == {0, 1, 2, 5}
    assert placement._cpu_list("7") == {7}


def test_pinning_is_worth_it_only_on_some_of_the_cpus_this_process_may_use() -> None:
    allowed = frozenset(os.sched_getaffinity(0))
    assert not placement.worth_pinning(None)
    assert not placement.worth_pinning(frozenset())
    assert not placement.worth_pinning(allowed)
    if len(allowed) > 1:
        assert placement.worth_pinning(frozenset({min(allowed)}))
    assert not placement.worth_pinning(frozenset({max(allowed) + 1000}))
