"""What the benchmark scripts share: the machine line, best-of timing, updating RESULTS.md."""

from __future__ import annotations

import os
import platform
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


def machine(load_before: float | None = None) -> str:
    """The machine a run came from, with the load average around it when given."""
    text = (
        f"{os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), no GPU, "
        f"Python {platform.python_version()}"
    )
    if load_before is not None:
        text += (
            f"; 1-minute load average {load_before:.1f} before the run, "
            f"{os.getloadavg()[0]:.1f} after"
        )
    return text


def best_time(fn: Callable[[], Any], repeats: int) -> float:
    """Seconds of the fastest of `repeats` timed calls of `fn`, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def write_section(heading: str, section: str) -> None:
    """Replace the `heading` section of RESULTS.md with `section` (append it if absent)."""
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section, text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    RESULTS.write_text(text)
