"""What every benchmark shares: the machine it ran on, quiet logs, and the report format.

Each benchmark prints one JSON object (for tools) and then a table (for people). Figures
are ratios or times measured in the same run, never compared with numbers from elsewhere.
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import structlog

__all__ = ["machine", "percentile", "quiet_logs", "report"]


def machine() -> dict[str, Any]:
    """Cores, CPU model and Python version: figures mean little without them."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def quiet_logs() -> None:
    """Warnings and errors only: rendering debug events would be most of what we time."""
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
        cache_logger_on_first_use=True,
    )


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (0.95 for p95), interpolated between neighbours."""
    if len(values) == 1:
        return values[0]
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[round(fraction * 100) - 1]


def report(name: str, figures: dict[str, Any], rows: Sequence[tuple[str, str, str]]) -> None:
    """Print ``{"benchmark", "machine", ...figures}`` as JSON, then a figure/value/target
    table."""
    document = {"benchmark": name, "machine": machine(), **figures}
    print(json.dumps(document, indent=2, default=str))
    header = ("figure", "value", "target")
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(3)]
    print()
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
