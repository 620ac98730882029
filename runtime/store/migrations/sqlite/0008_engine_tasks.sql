-- wfc schema 8: each serving engine records the tasks it runs, so operators
-- (GET /api/v1/workers, the dashboard) see which process serves what.
-- Written once at registration; heartbeats do not touch it.

ALTER TABLE engines ADD COLUMN tasks TEXT NOT NULL DEFAULT '[]';
