"""Figures shared by every part of the benchmark."""

from __future__ import annotations

import statistics
from typing import Any


def percentile(values: list[float], fraction: float) -> float:
    """The value at ``fraction`` (0..1) of the sorted values (nearest rank)."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def spread(values: list[float]) -> dict[str, Any]:
    """Median with min and max of repeated measurements."""
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
        "n": len(values),
    }


def merge_reps(reps: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure per key: the spread of every numeric value across reps;
    other values taken from the first rep."""
    merged: dict[str, Any] = {}
    for key, value in reps[0].items():
        values = [rep[key] for rep in reps if isinstance(rep.get(key), int | float) and rep.get(key) is not None]
        if isinstance(value, int | float) and not isinstance(value, bool) and len(values) == len(reps):
            merged[key] = spread([float(v) for v in values])
        else:
            merged[key] = value
    return merged
