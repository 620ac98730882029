-- wfc schema 9: user tasks, work for a person inside a run (issue 12).
--
-- One row per user task, written from the interpreter's UserTaskChanged
-- effects by the same commit as the run's state, so the inbox never shows
-- a task the run does not have; the run's journal (USER_TASK_* entries)
-- stays the audit trail. body is JSON: the values it was completed with and
-- who did the last change. Deleted with the run (retention, purge).
--
-- Listings are ordered by (created_at, id), oldest first (id in code point
-- order, like every keyset page), one index range per status: the inbox of
-- a user (status, user_id), of a group (status, user_group), every task of
-- a status, and the tasks of one run.

CREATE TABLE user_tasks (
    id text PRIMARY KEY,
    run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    workflow text NOT NULL,
    major integer NOT NULL,
    revision integer NOT NULL,
    thread integer NOT NULL,
    node text NOT NULL,
    form text NOT NULL,
    status text NOT NULL,
    user_id text,
    user_group text,
    notes text,
    created_at double precision NOT NULL,
    updated_at double precision NOT NULL,
    body text NOT NULL DEFAULT '{}'
);
CREATE INDEX user_tasks_by_user ON user_tasks (status, user_id, created_at, id COLLATE "C");
CREATE INDEX user_tasks_by_group ON user_tasks (status, user_group, created_at, id COLLATE "C");
CREATE INDEX user_tasks_by_status ON user_tasks (status, created_at, id COLLATE "C");
CREATE INDEX user_tasks_by_run ON user_tasks (run_id, created_at, id COLLATE "C");
