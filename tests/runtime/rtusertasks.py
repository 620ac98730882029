"""User tasks in interpreter tests: finding them in a state, and the index
the shell keeps from ``UserTaskChanged`` effects, to check it stays right."""

from __future__ import annotations

from collections.abc import Iterable

from wfc.runtime.interpreter import Effect, UserTaskChanged
from wfc.runtime.interpreter.state import RunState, ThreadStatus, UserTaskStatus, UserTaskWait


def open_tasks(state: RunState) -> dict[str, tuple[int, UserTaskWait]]:
    """Open user tasks of the run by id, with their thread number."""
    return {
        t.wait.id: (t.number, t.wait)
        for t in state.threads.values()
        if t.status is ThreadStatus.RUNNING and isinstance(t.wait, UserTaskWait)
    }


def the_task(state: RunState, thread: int = 0) -> UserTaskWait:
    """The open user task of thread ``thread``."""
    wait = state.threads[thread].wait
    assert isinstance(wait, UserTaskWait), f"thread {thread} waits for {wait!r}, not a user task"
    return wait


class Index:
    """The rows the shell writes from ``UserTaskChanged`` effects, by id."""

    def __init__(self) -> None:
        self.rows: dict[str, UserTaskChanged] = {}

    def apply(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, UserTaskChanged):
                before = self.rows.get(effect.id)
                if before is not None:
                    assert before.status.open, f"closed task {effect.id} changed again: {before} -> {effect}"
                    assert (before.created_at, before.form, before.thread, before.node) == (
                        effect.created_at,
                        effect.form,
                        effect.thread,
                        effect.node,
                    )
                self.rows[effect.id] = effect

    def open(self) -> dict[str, UserTaskChanged]:
        return {k: v for k, v in self.rows.items() if v.status.open}

    def status(self, task_id: str) -> UserTaskStatus:
        return self.rows[task_id].status

    def matches(self, state: RunState) -> None:
        """The open rows are exactly the run's open user tasks, as they are."""
        tasks = open_tasks(state)
        rows = self.open()
        assert set(rows) == set(tasks), f"index open {sorted(rows)} but the run has {sorted(tasks)} open"
        for task_id, (thread, wait) in tasks.items():
            row = rows[task_id]
            assert (row.thread, row.status, row.user, row.group, row.form) == (
                thread,
                wait.status,
                wait.user,
                wait.group,
                wait.form,
            )
