"""The engine's one spec cache: a version is decoded once, with what is
derived from it, and a missing version is one error."""

from __future__ import annotations

import anyio
import pytest
from rtspec import exit_, spec, task

from wfc.runtime._spec_cache import SpecCache
from wfc.runtime.errors import StoreError
from wfc.runtime.store import SpecRecord
from wfc.runtime.store.core import SpecVersion
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


class Versions:
    """A store's deployed versions of one workflow, with the mark another
    connection's commits change; counts the reads."""

    def __init__(self, mark: int | None) -> None:
        self.mark = mark
        self.versions = [SpecVersion(1, 0)]
        self.reads = 0

    async def spec_versions(self, name: str) -> list[SpecVersion]:
        self.reads += 1
        return list(self.versions)

    async def writes_elsewhere(self, *, wait: bool = True) -> int | None:
        assert not wait  # a start never waits behind commits for it
        return self.mark


async def test_marked_versions_are_kept_while_no_other_connection_commits() -> None:
    cache, source = SpecCache("/data/wfc.db", versions_marked=True), Versions(mark=7)
    assert await cache.versions(source, "checkout") == [SpecVersion(1, 0)]
    assert await cache.versions(source, "checkout") == [SpecVersion(1, 0)]
    assert source.reads == 1
    source.versions.append(SpecVersion(2, 0))  # deployed by another process,
    source.mark = 8  # which committed
    assert await cache.versions(source, "checkout") == [SpecVersion(1, 0), SpecVersion(2, 0)]
    assert source.reads == 2
    cache.forget_versions(["checkout"])  # this engine deployed
    await cache.versions(source, "checkout")
    assert source.reads == 3


async def test_marked_versions_are_read_each_time_where_the_store_cannot_tell_or_none_are_deployed() -> None:
    cache, source = SpecCache("/data/wfc.db", versions_marked=True), Versions(mark=None)
    await cache.versions(source, "checkout")
    await cache.versions(source, "checkout")
    assert source.reads == 2
    source.mark, source.versions = 3, []
    assert await cache.versions(source, "checkout") == []
    assert await cache.versions(source, "checkout") == []  # its first deploy must show at once
    assert source.reads == 4


async def test_a_version_list_read_while_a_deploy_lands_is_not_kept() -> None:
    cache, source = SpecCache("/data/wfc.db", versions_marked=True), Versions(mark=7)
    reading, deployed = anyio.Event(), anyio.Event()
    read = source.spec_versions

    async def slow_read(name: str) -> list[SpecVersion]:
        found = await read(name)  # read before the deploy committed
        reading.set()
        await deployed.wait()
        return found

    source.spec_versions = slow_read  # type: ignore[method-assign]
    async with anyio.create_task_group() as tg:
        tg.start_soon(cache.versions, source, "checkout")
        await reading.wait()
        source.versions.append(SpecVersion(2, 0))  # this engine's deploy commits (the mark stays)
        cache.forget_versions(["checkout"])
        deployed.set()
    source.spec_versions = read  # type: ignore[method-assign]
    assert await cache.versions(source, "checkout") == [SpecVersion(1, 0), SpecVersion(2, 0)]
