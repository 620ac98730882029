-- wfc schema 9: user tasks, work for a person inside a run (issue 12).
--
-- One row per user task, written from the interpreter's UserTaskChanged
-- effects by the same commit as the run's state, so the inbox never shows
-- a task the run does not have; the run's journal (USER_TASK_* entries)
-- stays the audit trail. body is JSON: the values it was completed with and
-- who did the last change. Deleted with the run (retention, purge).
--
-- Listings are ordered by (created_at, id), oldest first, one index range
-- per status: the inbox of a user (status, user_id), of a group (status,
-- user_group), every task of a status, and the tasks of one run.

CREATE TABLE user_tasks (
    id TEXT PRIMARY KEY,
    run_id TEXT NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    workflow TEXT NOT NULL,
    major INTEGER NOT NULL,
    revision INTEGER NOT NULL,
    thread INTEGER NOT NULL,
    node TEXT NOT NULL,
    form TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT,
    user_group TEXT,
    notes TEXT,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    body TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX user_tasks_by_user ON user_tasks (status, user_id, created_at, id);
CREATE INDEX user_tasks_by_group ON user_tasks (status, user_group, created_at, id);
CREATE INDEX user_tasks_by_status ON user_tasks (status, created_at, id);
CREATE INDEX user_tasks_by_run ON user_tasks (run_id, created_at, id);
