"""A run id no URL can name is refused when the run starts: "." and ".."
are folders to a browser (even percent-encoded), so neither the dashboard
nor GET /api/v1/runs/{id} could reach such a run. Ids merely holding dots
are ids like any other."""

from __future__ import annotations

from pathlib import Path

import pytest
from rtspec import exit_, spec

from wfc.runtime import Engine, UsageError

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("run_id", [".", ".."])
async def test_a_run_id_of_dots_alone_is_refused_before_anything_is_written(tmp_path: Path, run_id: str) -> None:
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    async with Engine.open(url) as engine:
        await engine.deploy(spec("dots", [("end", exit_())]))
        with pytest.raises(UsageError, match=r"is not allowed: no URL can name it .*e\.g\. 'order-123'"):
            await engine.start("dots", run_id=run_id)
        assert await engine.list_runs() == []


@pytest.mark.parametrize("run_id", ["...", "./x", "a..b", ". ", "v1.2"])
async def test_ids_holding_dots_are_ids_like_any_other(tmp_path: Path, run_id: str) -> None:
    async with Engine.open(f"sqlite:///{tmp_path / 'runs.db'}") as engine:
        await engine.deploy(spec("dots", [("end", exit_())]))
        assert await engine.start("dots", run_id=run_id) == run_id
        assert (await engine.get_run(run_id)).id == run_id
