-- wfc schema 4: each thread run of a run in its own row, so that a commit
-- writes the threads its step changed, not the whole run (a run with 1,000
-- waiting children rewrote all of them on every step). runs.state then holds
-- the run without its threads (state format 2); a run stored before keeps
-- its threads in runs.state until its next commit moves them here.

CREATE TABLE run_threads (
    run_id text NOT NULL REFERENCES runs (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    number integer NOT NULL,
    state text NOT NULL,
    PRIMARY KEY (run_id, number)
) WITH (fillfactor = 70);
