"""``wfc worker`` with its asyncpg round trips counted.

``python counted_worker.py OUT_FILE WFC_ARGS...``: runs ``wfc WFC_ARGS`` and,
when the process exits (SIGTERM stops a worker cleanly), writes its CPU
seconds, round trips and COMMITs to ``OUT_FILE`` as JSON, for ``run.py`` to add up.
"""

from __future__ import annotations

import atexit
import json
import sys
from pathlib import Path

from probes import AsyncpgCalls, cpu_seconds


def main() -> None:
    out = Path(sys.argv[1])
    calls = AsyncpgCalls()
    calls.install()

    def report() -> None:
        counts = {"cpu_s": cpu_seconds(), "round_trips": calls.round_trips, "commits": calls.commits}
        out.write_text(json.dumps({**counts, "verbs": calls.verbs}))

    atexit.register(report)
    sys.argv = ["wfc", *sys.argv[2:]]
    from wfc.cli import main as wfc_main

    wfc_main()


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
