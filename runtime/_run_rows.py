"""What a commit writes of a run: its state without its threads, and the
threads its transitions changed, each in its own row (``run_threads``); and
the state read back from a run's row (:func:`stored_state`).

A run with 1,000 waiting child threads used to rewrite all of them on every
step. The interpreter copies a thread only when a step changes it (see
:mod:`wfc.runtime.interpreter.copies`) and the new state shares every other
thread run with the state it came from, so the threads to write are those of
the new state that are not the very objects of the state before.
"""

from __future__ import annotations

import msgspec

from wfc.runtime._search import Searchable, changed_values, search_values
from wfc.runtime.errors import UnreadableRunError
from wfc.runtime.interpreter.copies import changed_since, remember_encoded
from wfc.runtime.interpreter.state import RunState, RunStatus, decode_state, encode_run, encode_thread
from wfc.runtime.store import RunRecord, RunWrite
from wfc.runtime.store.core import check_format, unreadable_why


def stored_state(location: str, record: RunRecord) -> RunState:
    """The state of a run's row, checked: where wfc did not write it as it
    is, the error says so by name, never as a decoding error (or a
    ``KeyError`` later on).

    Raises:
        NewerRunStateError: it was stored by a newer wfc.
        UnreadableRunError: it is not what wfc writes (changed outside wfc,
            or the file is damaged).
    """
    check_format(location, record.id, record.state_format)
    try:
        return decode_state(record.state)
    except msgspec.DecodeError as exc:  # ValidationError included
        raise UnreadableRunError(location, record.id, unreadable_why("its stored state", exc)) from None


def changed_threads(before: RunState, after: RunState, apart: bool) -> dict[int, bytes]:
    """The threads of ``after`` to write, as JSON by number: every one unless
    the run's threads are stored ``apart`` as of ``before`` (a new run, a run
    stored whole by an older wfc), else the ones ``after`` does not share
    with ``before``. The interpreter never removes a thread from a run.
    The JSON is kept with ``after``'s threads for the next step's copies
    (:func:`~wfc.runtime.interpreter.copies.remember_encoded`)."""
    threads = after.threads
    if not apart:
        rows = {number: encode_thread(thread) for number, thread in threads.items()}
    elif (touched := changed_since(before.threads, threads)) is not None:
        # the threads the step copied: no need to look at the others
        rows = {number: encode_thread(threads[number]) for number in touched}
    else:
        old = before.threads
        rows = {number: encode_thread(thread) for number, thread in threads.items() if old.get(number) is not thread}
    remember_encoded(threads, rows)
    return rows


def run_write(
    run_id: str,
    before: RunState,
    after: RunState,
    apart: bool,
    expected_version: int | None,
    queued: RunWrite | None,
    searchable: Searchable = (),
) -> RunWrite:
    """The write of a run's new state ``after``; ``queued`` is the write of
    an earlier transition of the run in the same transaction, whose changed
    threads and index rows this one keeps (it replaces it in the batch).
    ``searchable``: the spec's indexed variables, whose rows are written
    with the state when they changed (all of them for a new run)."""
    threads = changed_threads(before, after, apart)
    if queued is not None and queued.threads:
        threads = {**queued.threads, **threads}
    search = None
    if searchable:
        if expected_version is None:
            search = search_values(after.variables, searchable)
        else:
            search = changed_values(before.variables, after.variables, searchable)
        if queued is not None and queued.search:
            search = {**queued.search, **search}
    return RunWrite(
        id=run_id,
        workflow=after.workflow,
        major=after.version.major,
        revision=after.version.revision,
        status=after.status.value,
        state=encode_run(after),
        created_at=after.created_at,
        updated_at=after.updated_at,
        expected_version=expected_version,
        threads=threads,
        trace=None if queued is None else queued.trace,
        search=search or None,
        needs_attention=after.status is RunStatus.FAILED and after.compensation_failed,
        migrated=queued is not None and queued.migrated,
        finished=after.status.finished,
        status_changed=before.status is not after.status or (queued is not None and queued.status_changed),
    )
