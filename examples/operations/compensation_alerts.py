"""An alert hook: page someone when a compensation fails for good.

A failed compensation leaves a side effect not undone (a card charged for an
order that was cancelled), so a person must look. This subscriber reads every
run's journal from a durable position (``Engine.subscribe``) and raises one
alert per ``COMPENSATION_FAILED`` entry that is ``final`` (its retries ran
out; the run is FAILED and listed by ``wfc runs list --needs-attention``).

Delivery is at least once: after a crash or a restart, the entries of the
last batch may come again. The alert is therefore keyed by the journal entry,
``run_id/seq``, and the sink sends each key once; a real sink passes the key
to the alerting system as its deduplication key (PagerDuty's ``dedup_key``,
Opsgenie's ``alias``, an ``Idempotency-Key`` header on a webhook), so a
repeat is dropped there. Here the sink appends to a JSON-lines file and skips
keys already in it.

Run it beside the engines serving a database:

    python examples/operations/compensation_alerts.py --db sqlite:///wfc.db --alerts alerts.jsonl

It prints each alert and goes on until Ctrl-C; started again, it goes on
where it stopped (the position is saved under ``compensation-alerts``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from pathlib import Path
from typing import Any

from wfc.runtime import Engine, FeedEntry

#: The subscriber's name: its position is saved under it in the database.
SUBSCRIBER = "compensation-alerts"


class FileAlerts:
    """Alerts appended to a JSON-lines file, each key once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sent: set[str] = set()
        if path.exists():
            self.sent = {json.loads(line)["key"] for line in path.read_text().splitlines() if line}

    def send(self, key: str, alert: dict[str, Any]) -> bool:
        """Record the alert unless ``key`` was sent before; whether it was new."""
        if key in self.sent:
            return False
        with self.path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"key": key, **alert}) + "\n")
        self.sent.add(key)
        print(f"ALERT {key}: {alert['summary']}", flush=True)
        return True


def alert_for(entry: FeedEntry) -> dict[str, Any] | None:
    """The alert for a journal entry, or ``None`` if it needs none."""
    if entry.kind != "COMPENSATION_FAILED" or not entry.detail.get("final"):
        return None  # a failed attempt with a retry still to come
    task = entry.detail.get("task")
    return {
        "summary": f"compensation {task!r} of run {entry.run_id} ({entry.workflow}) failed for good",
        "run_id": entry.run_id,
        "workflow": entry.workflow,
        "node": entry.node,
        "task": task,
        "error": entry.detail.get("error"),
        "message": entry.detail.get("message"),
        "at": entry.timestamp.isoformat(),
    }


async def watch(engine: Engine, alerts: FileAlerts, *, poll_interval: float = 0.5) -> None:
    """Raise an alert for every compensation that fails for good, forever."""
    async with engine.subscribe(SUBSCRIBER, kinds=["COMPENSATION_FAILED"], poll_interval=poll_interval) as feed:
        async for entry in feed:
            alert = alert_for(entry)
            if alert is not None:
                alerts.send(f"{entry.run_id}/{entry.seq}", alert)


async def main(url: str, alerts_file: Path) -> None:
    # A client engine: it runs no tasks, only reads the feed and saves its position.
    async with Engine.open(url, serve=False) as engine:
        await watch(engine, FileAlerts(alerts_file))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Alert when a compensation fails for good.")
    parser.add_argument("--db", default="sqlite:///wfc.db", help="the database the engines serve")
    parser.add_argument("--alerts", default="alerts.jsonl", type=Path, help="where alerts are appended")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C: the position is saved on the way out
        asyncio.run(main(args.db, args.alerts))
