"""A mapping that is no table, given to :func:`plan_migration` (the engine's
``plan_migration`` passes it on), is a :class:`MappingError` that says so,
not a TypeError or ValueError of ``dict()``."""

from __future__ import annotations

from typing import Any

import pytest
from rtdb import Db
from rtversions import RENAMED, record

from wfc.runtime._reader import open_reader
from wfc.runtime.migration_plan import MappingError, plan_migration

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize(
    ("mapping", "kind"), [([1], "an array"), ("x", "a string"), (5, "a number"), ([("nodes", {})], "an array")]
)
async def test_a_mapping_that_is_no_table_is_a_mapping_error(db: Db, mapping: Any, kind: str) -> None:
    await record(db.url, [RENAMED])
    async with open_reader(db.url) as reader:
        with pytest.raises(MappingError) as raised:
            await plan_migration(reader, "order", "1.0", "1.1", mapping)
    assert str(raised.value).endswith(f"not {kind}")
