"""The syrupy extension that stores one workflow spec per ``.json`` file."""

from __future__ import annotations

from collections.abc import Iterator

from syrupy.extensions.single_file import SingleFileSnapshotExtension, WriteMode
from syrupy.types import PropertyFilter, PropertyMatcher, SerializableData, SerializedData

from wfc.specs import WorkflowSpec, dumps
from wfc.testing.compare import spec_diff


class WorkflowSpecExtension(SingleFileSnapshotExtension):
    """Store a spec as the exact bytes ``wfc compile`` would write.

    Each snapshot is its own readable ``.json`` file under
    ``__snapshots__/<test module>/``, so a change to a workflow shows up in code
    review as an ordinary JSON diff. It can also be used on its own::

        def test_spec(snapshot):
            assert snapshot.use_extension(WorkflowSpecExtension) == my_wf.compile()
    """

    file_extension = "json"
    _write_mode = WriteMode.BINARY

    def serialize(
        self,
        data: SerializableData,
        *,
        exclude: PropertyFilter | None = None,
        include: PropertyFilter | None = None,
        matcher: PropertyMatcher | None = None,
    ) -> SerializedData:
        """Encode a :class:`~wfc.specs.WorkflowSpec` as canonical JSON; spec
        text given as ``str`` or ``bytes`` is stored as it is."""
        if isinstance(data, WorkflowSpec):
            return dumps(data)
        if isinstance(data, str):
            return data.encode("utf-8")
        if isinstance(data, bytes | bytearray | memoryview):
            return bytes(data)
        raise TypeError(
            f"WorkflowSpecExtension stores workflow specs, got {type(data).__name__}; "
            "pass a wfc.specs.WorkflowSpec (e.g. my_wf.compile()) or use the wf_snapshot fixture"
        )

    def diff_lines(self, serialized_data: SerializedData, snapshot_data: SerializedData) -> Iterator[str]:
        """A unified diff from the stored spec to the new one."""
        return spec_diff(_text(snapshot_data), _text(serialized_data))


def _text(data: SerializedData) -> str:
    return data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
