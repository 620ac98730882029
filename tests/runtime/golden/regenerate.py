"""Rewrite the golden files from the scenarios, after an intended change of
semantics (review the diff before committing it).

Usage, from the repository root::

    python -m tests.runtime.golden.regenerate            # rewrite every file
    python -m tests.runtime.golden.regenerate CASE ...   # only these cases
    python -m tests.runtime.golden.regenerate --check    # exit 1 if a file would change
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# The scenarios import the runtime test helpers (rtspec) and this package as
# ``golden``, as the tests do (tests/runtime/conftest.py puts tests/runtime first).
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from golden.canon import text
from golden.catalog import files, path_of, record, scenarios


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) the golden files; return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("cases", nargs="*", help="case names (default: all)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file is out of date")
    args = parser.parse_args(argv)
    known = scenarios()
    unknown = [name for name in args.cases if name not in known]
    if unknown:
        parser.error(f"no scenario named {', '.join(unknown)}; known: {', '.join(known)}")
    stale = []
    for name in args.cases or known:
        path = path_of(name)
        new = text(record(name))
        old = path.read_text(encoding="utf-8") if path.exists() else None
        if new == old:
            continue
        stale.append(path.name)
        if not args.check:
            path.write_text(new, encoding="utf-8")
    orphans = [p for p in files() if p.stem not in known] if not args.cases else []
    for path in orphans:
        stale.append(path.name)
        if not args.check:
            path.unlink()
    verb = "out of date" if args.check else "rewritten"
    print(f"{len(stale)} golden file(s) {verb}" + (f": {', '.join(stale)}" if stale else ""))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
