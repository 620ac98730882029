-- wfc schema 3: list the runs of one workflow version newest first without
-- scanning the workflow's other versions (GET /api/v1/runs?workflow=&version=).
-- Its columns never change after a run is created, so updates stay HOT.

CREATE INDEX runs_by_version ON runs (workflow, major, revision, created_at);
