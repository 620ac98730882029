"""The engine's one spec cache: a version is decoded once, with what is
derived from it, and a missing version is one error."""

from __future__ import annotations

import pytest
from rtspec import exit_, spec, task

from wfc.runtime._spec_cache import SpecCache
from wfc.runtime.errors import StoreError
from wfc.runtime.store import SpecRecord
from wfc.specs import body_hash, dumps

pytestmark = pytest.mark.anyio


class Source:
    """A store that holds some spec rows and counts the reads."""

    def __init__(self, *records: SpecRecord) -> None:
        self.records = {(r.name, r.major, r.revision): r for r in records}
        self.reads = 0

    async def get_spec(self, name: str, major: int, revision: int) -> SpecRecord | None:
        self.reads += 1
        return self.records.get((name, major, revision))


def _record() -> SpecRecord:
    s = spec("checkout", [("charge", task("charge-card")), ("end", exit_("done"))])
    return SpecRecord(name=s.name, major=1, revision=0, hash=body_hash(s), body=dumps(s), deployed_at=0.0)


async def test_a_spec_version_is_decoded_and_derived_once() -> None:
    record = _record()
    cache, source = SpecCache("/data/wfc.db"), Source(record)
    first = await cache.load(source, ("checkout", 1, 0), "r1")
    again = await cache.load(source, ("checkout", 1, 0), "r2")
    assert again is first and cache.decoded(record) is first
    assert source.reads == 1
    assert first.spec.name == "checkout" and first.info.tasks == frozenset({"charge-card"})


async def test_a_missing_spec_version_is_one_store_error_naming_the_run() -> None:
    cache = SpecCache("/data/wfc.db")
    with pytest.raises(StoreError) as caught:
        await cache.load(Source(), ("checkout", 2, 1), "order-7")
    assert str(caught.value) == (
        "cannot use database /data/wfc.db: spec checkout 2.1 of run 'order-7' is missing from the database"
    )
