"""Structured logs: every transition as a log record, and JSON lines.

```python
import logging, sys
from wfc.runtime.logs import JsonFormatter, TransitionLog

handler = logging.StreamHandler(sys.stderr)
handler.setFormatter(JsonFormatter())
logging.basicConfig(level=logging.INFO, handlers=[handler])
async with Engine.open(url, tasks=[...], observers=[TransitionLog()]) as engine: ...
```

:class:`TransitionLog` is an observer (``Engine.open(observers=[...])``)
that logs each journal entry an engine commits, on the logger
``wfc.transitions``, with the run id, workflow, version, node, kind,
thread, attempt and idempotency key as fields of the record. The entries
come from the journal as it is stored, where the interpreter already wrote
the values of masked variables (and any text quoting them) as ``"***"``,
the same values ``wfc runs history`` and the REST API show. Of an entry's
detail only the plain values are logged (task, error, message, ...):
inputs, outputs, arguments and payloads stay in the journal.

:class:`JsonFormatter` writes any log record, wfc's or not, as one JSON
line; ``wfc worker|server|run --log-format json`` sets both up.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Final

import msgspec

from wfc.runtime._observe import Commit
from wfc.runtime.store import JournalRecord

#: The logger transitions are logged on.
TRANSITIONS: Final = "wfc.transitions"
#: Where a record keeps its structured fields (``extra={FIELDS: {...}}``).
FIELDS: Final = "wfc"
#: Longest text of a detail field in a log line; the journal keeps it whole.
TEXT_LIMIT: Final = 2000

_DETAIL: Final = msgspec.json.Decoder(dict[str, Any])


def transition_level(kind: str, detail: dict[str, Any]) -> int:
    """The level a journal entry of ``kind`` is logged at: ERROR when a run
    failed or a compensation failed for good, WARNING for other failures and
    timeouts (retried or handled), INFO for the rest."""
    if kind == "RUN_FAILED" or (kind == "COMPENSATION_FAILED" and detail.get("final")):
        return logging.ERROR
    if kind.endswith(("_FAILED", "_TIMEOUT")):
        return logging.WARNING
    return logging.INFO


class TransitionLog:
    """Logs every transition an engine commits (an observer: see the module
    docstring). Costs nothing per commit while its logger is disabled for
    INFO.

    Args:
        logger: Where to log; ``wfc.transitions`` by default.
    """

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._logger = logger or logging.getLogger(TRANSITIONS)

    def committed(self, commit: Commit) -> None:
        """Log each journal entry of ``commit`` (the engine calls this)."""
        logger = self._logger
        if not logger.isEnabledFor(logging.INFO):
            return
        for entry in commit.journal:
            detail = _DETAIL.decode(entry.detail)
            level = transition_level(entry.kind, detail)
            if logger.isEnabledFor(level):
                labels = commit.labels(entry.run_id)
                fields = transition_fields(entry, labels.workflow, labels.version, detail)
                logger.log(level, "%s", _message(entry, labels.workflow), extra={FIELDS: fields})


def transition_fields(entry: JournalRecord, workflow: str, version: str, detail: dict[str, Any]) -> dict[str, Any]:
    """The structured fields of a transition's log record."""
    fields: dict[str, Any] = {
        "run_id": entry.run_id,
        "workflow": workflow,
        "version": version,
        "seq": entry.seq,
        "kind": entry.kind,
        "thread": entry.thread,
    }
    if entry.node is not None:
        fields["node"] = entry.node
    if entry.attempt is not None:
        fields["attempt"] = entry.attempt
    key = detail.get("idempotency_key")
    if isinstance(key, str):
        fields["idempotency_key"] = key
    plain = {name: _plain(value) for name, value in detail.items() if _is_plain(value) and name != "idempotency_key"}
    if plain:
        fields["detail"] = plain
    return fields


def _is_plain(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _plain(value: Any) -> Any:
    if isinstance(value, str) and len(value) > TEXT_LIMIT:
        return f"{value[:TEXT_LIMIT]}… ({len(value) - TEXT_LIMIT} more characters in the journal)"
    return value


def _message(entry: JournalRecord, workflow: str) -> str:
    where = f" at {entry.node}" if entry.node is not None else ""
    attempt = f" (attempt {entry.attempt})" if entry.attempt is not None else ""
    return f"run {entry.run_id} ({workflow}): {entry.kind}{where}{attempt}"


class JsonFormatter(logging.Formatter):
    """Formats a log record as one JSON object on one line: ``time`` (UTC,
    ISO 8601), ``level``, ``logger``, ``message``, the structured fields a
    record carries under ``extra={"wfc": {...}}`` (see :class:`TransitionLog`),
    and ``exception`` (the traceback) when there is one."""

    def __init__(self) -> None:
        super().__init__()
        self._encoder = msgspec.json.Encoder(enc_hook=str)  # whatever a record holds becomes text, never an error

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, FIELDS, None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return self._encoder.encode(line).decode()


def _utc(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
