"""Test helpers for wfc workflows, and the pytest plugin that uses them.

Installing wfc registers a pytest plugin with one fixture, ``wf_snapshot``,
that compiles a workflow and compares its spec with a readable ``.json``
snapshot stored beside the test::

    from checkout import checkout_wf

    def test_checkout_spec(wf_snapshot):
        assert wf_snapshot(checkout_wf)

``pytest --snapshot-update`` writes new and changed snapshots; a changed
workflow fails with a unified diff of its spec.

The second fixture, ``wf_env``, runs workflows for real in virtual time
(:class:`WorkflowEnv`): an engine on a throwaway SQLite store and a
:class:`VirtualClock`, tasks stubbed by name, events and user tasks sent
by the test, and assertions on a run's path, compensations, output and
journal that fail with a unified diff::

    async def test_a_declined_card_settles_nothing(wf_env):
        wf_env.stub("authorize-payment", returns={"status": "declined", "authorization_id": None})
        wf_env.stub("fraud-check", returns={"score": 0.1})
        run = await wf_env.run(payment_wf, {...})
        await wf_env.assert_output(run, "declined")

:class:`WorkflowSpecExtension` is the syrupy extension underneath; it is
imported on first use because it needs syrupy (the ``test`` extra).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from wfc.testing.assertions import WorkflowAssertionError
from wfc.testing.clock import VirtualClock
from wfc.testing.compare import spec_diff, spec_of, spec_text
from wfc.testing.env import StuckRunError, WorkflowEnv, workflow_env
from wfc.testing.snapshot import SnapshotMatch, SpecSnapshotMismatch, WorkflowSnapshot
from wfc.testing.stubs import Call, Stub

if TYPE_CHECKING:
    from wfc.testing.extension import WorkflowSpecExtension

__all__ = [
    "Call",
    "SnapshotMatch",
    "SpecSnapshotMismatch",
    "Stub",
    "StuckRunError",
    "VirtualClock",
    "WorkflowAssertionError",
    "WorkflowEnv",
    "WorkflowSnapshot",
    "WorkflowSpecExtension",
    "spec_diff",
    "spec_of",
    "spec_text",
    "workflow_env",
]


def __getattr__(name: str) -> Any:
    # Keeps ``import wfc.testing`` free of syrupy for installs without it.
    if name == "WorkflowSpecExtension":
        from wfc.testing.extension import WorkflowSpecExtension

        return WorkflowSpecExtension
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
