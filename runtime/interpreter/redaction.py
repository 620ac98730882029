"""Keeping a run's secrets out of what a step records."""

from __future__ import annotations

import msgspec

from wfc.runtime.interpreter.context import Step
from wfc.runtime.interpreter.secrets import MASK, Redactor
from wfc.runtime.interpreter.state import FailedWait, Failure, HandlerWait, RetryWait, TaskWait, Wait


def redact(step: Step, redactor: Redactor) -> None:
    """The one place secrets are kept out of the record: every journal
    detail and every failure message and content of the new state has the
    run's secret texts replaced by ``"***"`` (error messages quote values,
    task exceptions may name their arguments). Variables, outputs and task
    arguments keep their real values: the run needs them."""
    if not redactor:
        return
    step.journal = [
        msgspec.structs.replace(entry, detail=redactor.value(entry.detail)) if entry.detail else entry
        for entry in step.journal
    ]
    state = step.state
    state.failure = _redact_failure(state.failure, redactor)
    if state.saga is not None:
        state.saga.failure = _redact_failure(state.saga.failure, redactor)
    for thread in step.ordered():
        thread.failure = _redact_failure(thread.failure, redactor)
        wait = thread.wait
        if isinstance(wait, HandlerWait | FailedWait):
            wait.failure = _redact_failure(wait.failure, redactor) or wait.failure


def forget_secrets(step: Step, redactor: Redactor) -> None:
    """Erase the secrets of a run that no input can move any more: its
    masked variables become ``"***"`` and the secret texts leave every
    other value the state keeps (outputs, task and compensation
    arguments, queued events), so the database does not keep them.
    A FAILED run that may be retried keeps them: the retry needs them."""
    state = step.state
    masked = step.info.masked
    state.output = redactor.value(state.output)
    # A digest of a short secret (a PIN) is as good as the secret to anyone
    # who can try every value: it goes too.
    state.input_digests = {k: v for k, v in state.input_digests.items() if k not in masked}
    for thread in step.ordered():
        thread.variables = {
            k: (MASK if k in masked and v is not None else redactor.value(v)) for k, v in thread.variables.items()
        }
        thread.outputs = redactor.value(thread.outputs)
        thread.output = redactor.value(thread.output)
        _redact_args(thread.wait, redactor)
    for record in state.compensations:
        record.args = redactor.value(record.args)
    for event in state.inbox:
        event.payload = redactor.value(event.payload)
    if state.saga is not None:
        _redact_args(state.saga.wait, redactor)
        for draining in state.saga.draining:
            _redact_args(draining.wait, redactor)


def _redact_args(wait: Wait | None, redactor: Redactor) -> None:
    if isinstance(wait, TaskWait | RetryWait):
        wait.args = redactor.value(wait.args)
    elif isinstance(wait, FailedWait) and wait.rerun is not None:
        wait.rerun.args = redactor.value(wait.rerun.args)


def _redact_failure(failure: Failure | None, redactor: Redactor) -> Failure | None:
    if failure is None:
        return None
    message, content = redactor.text(failure.message), redactor.value(failure.content)
    if message == failure.message and content == failure.content:
        return failure
    return msgspec.structs.replace(failure, message=message, content=content)
