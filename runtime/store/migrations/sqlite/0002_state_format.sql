-- wfc schema 2: the format of each run's stored state, so that an engine
-- refuses a run written by a newer wfc instead of misreading it. Runs stored
-- before this migration were written in format 1.

ALTER TABLE runs ADD COLUMN state_format INTEGER NOT NULL DEFAULT 1;
