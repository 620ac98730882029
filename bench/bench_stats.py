"""Figures shared by both sides of the benchmark."""

from __future__ import annotations

import statistics
from typing import Any


def summarize(durations_ms: list[float], steps_per_second: float, steps: int) -> dict[str, Any]:
    """Median and p99 per run, per step, and concurrent throughput."""
    ordered = sorted(durations_ms)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    median = statistics.median(ordered)
    return {
        "median_ms_per_run": round(median, 3),
        "p99_ms_per_run": round(p99, 3),
        "median_ms_per_step": round(median / steps, 3),
        "steps_per_s_concurrent": round(steps_per_second, 1),
    }
