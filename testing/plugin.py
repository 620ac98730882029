"""The wfc pytest plugin, loaded through the ``pytest11`` entry point.

It provides the ``wf_snapshot`` fixture (see
:class:`wfc.testing.WorkflowSnapshot`) and the ``wf_env`` fixture (see
:class:`wfc.testing.WorkflowEnv`). It needs syrupy, which the ``test``
extra installs; without it, only tests that use the fixture fail, with a
message that says what to install.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from wfc.testing.env import WorkflowEnv, workflow_env
from wfc.testing.snapshot import WorkflowSnapshot


@pytest.fixture
def wf_snapshot(request: pytest.FixtureRequest) -> WorkflowSnapshot:
    """Compile a workflow and compare its spec with a ``.json`` snapshot.

    ``assert wf_snapshot(my_wf)`` passes when the spec equals the stored one
    and fails with a unified diff otherwise; ``pytest --snapshot-update``
    writes new and changed snapshots.
    """
    try:
        import syrupy  # noqa: F401  (only to give a clear error)
    except ImportError:
        pytest.fail(
            "the wf_snapshot fixture needs syrupy; install it with `pip install 'wfc[test]'`",
            pytrace=False,
        )
    return WorkflowSnapshot(request.getfixturevalue("snapshot"))


@pytest.fixture
async def wf_env(anyio_backend: str) -> AsyncIterator[WorkflowEnv]:
    """A :class:`wfc.testing.WorkflowEnv`: an engine on an in-memory SQLite
    store, on a virtual clock (``wf_env.clock``), with task stubs
    (``wf_env.stub(name, returns=...)``). Async tests only (``anyio``)."""
    if anyio_backend != "asyncio":
        pytest.skip("the wfc engine runs on asyncio")
    async with workflow_env() as env:
        yield env
