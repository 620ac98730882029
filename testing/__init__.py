"""Test helpers for wfc workflows, and the pytest plugin that uses them.

Installing wfc registers a pytest plugin with one fixture, ``wf_snapshot``,
that compiles a workflow and compares its spec with a readable ``.json``
snapshot stored beside the test::

    from checkout import checkout_wf

    def test_checkout_spec(wf_snapshot):
        assert wf_snapshot(checkout_wf)

``pytest --snapshot-update`` writes new and changed snapshots; a changed
workflow fails with a unified diff of its spec.

:class:`WorkflowSpecExtension` is the syrupy extension underneath; it is
imported on first use because it needs syrupy (the ``test`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wfc.testing.compare import spec_diff, spec_of, spec_text
from wfc.testing.snapshot import SnapshotMatch, SpecSnapshotMismatch, WorkflowSnapshot

if TYPE_CHECKING:
    from wfc.testing.extension import WorkflowSpecExtension

__all__ = [
    "SnapshotMatch",
    "SpecSnapshotMismatch",
    "WorkflowSnapshot",
    "WorkflowSpecExtension",
    "spec_diff",
    "spec_of",
    "spec_text",
]


def __getattr__(name: str) -> Any:
    # Keeps ``import wfc.testing`` free of syrupy for installs without it.
    if name == "WorkflowSpecExtension":
        from wfc.testing.extension import WorkflowSpecExtension

        return WorkflowSpecExtension
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
