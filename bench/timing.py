"""Shared by the benchmark scripts: print a workload's median against its target."""

from __future__ import annotations

import statistics


def report(name: str, samples: list[float], target: float) -> None:
    median = statistics.median(samples)
    verdict = "ok" if median <= target else "OVER TARGET"
    print(
        f"{name:<44} median {median:.3f}s  min {min(samples):.3f}s  max {max(samples):.3f}s  "
        f"(n={len(samples)}, target <= {target}s: {verdict})"
    )
