-- wfc schema 6: the trace context of each run (OpenTelemetry), written with
-- the run's first commit, so the spans of a run recovered after a crash
-- continue the same trace. A W3C traceparent: "00-<trace id>-<parent span
-- id>-<flags>", the parent span id being the caller's span (Engine.start(...,
-- traceparent=...)) or sixteen zeros when the run's span is the trace's root.
-- NULL for runs started before this migration (a trace id is derived then).

ALTER TABLE runs ADD COLUMN trace_context text;
