"""Latency sampling: call a function over a sample of ids and summarise the wall times."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Latency", "measure_latency"]


@dataclass
class Latency:
    """Milliseconds per call over a sample; errors are counted, not timed."""

    name: str
    times_ms: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def percentile(self, q: float) -> float | None:
        """The ``q``-th percentile in ms (linear interpolation), None without samples."""
        if not self.times_ms:
            return None
        return float(np.percentile(np.asarray(self.times_ms), q))

    def summary(self) -> dict[str, object]:
        """JSON-ready: calls, errors, p50/p95/p99/max in ms."""
        return {
            "calls": len(self.times_ms),
            "errors": self.errors,
            "first_error": self.first_error,
            "p50_ms": self.percentile(50),
            "p95_ms": self.percentile(95),
            "p99_ms": self.percentile(99),
            "max_ms": max(self.times_ms) if self.times_ms else None,
        }


def measure_latency(name: str, call: Callable[[str], object], ids: Sequence[str], *, warmup: int = 3) -> Latency:
    """Time ``call(id)`` for every id after ``warmup`` untimed calls (caches, connections)."""
    result = Latency(name)
    for customer_id in ids[:warmup]:
        try:
            call(customer_id)
        except Exception:  # counted below, when timed
            pass
    for customer_id in ids:
        started = time.perf_counter()
        try:
            call(customer_id)
        except Exception as e:  # a benchmark reports failures instead of stopping
            result.errors += 1
            result.first_error = result.first_error or f"{type(e).__name__}: {e}"[:200]
            continue
        result.times_ms.append((time.perf_counter() - started) * 1000)
    return result
