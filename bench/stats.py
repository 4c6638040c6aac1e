"""Percentiles and the summary every latency figure is reported with."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

PERCENTILES = (50, 95, 99)


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile, interpolated between the closest ranks (numpy's default)."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def summary(values_ms: Sequence[float]) -> dict[str, float]:
    """count, mean, p50/p95/p99 and max of a list of milliseconds, rounded for the table."""
    return {
        "count": len(values_ms),
        "mean_ms": round(statistics.fmean(values_ms), 2),
        **{f"p{p}_ms": round(percentile(values_ms, p), 2) for p in PERCENTILES},
        "max_ms": round(max(values_ms), 2),
    }
