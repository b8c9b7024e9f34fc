"""Run the `tpo` command in a process of its own, as a user would, never reaching a hub."""

from __future__ import annotations

import os
import subprocess
import sys

OFFLINE = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def tpo(*args: str, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """`python -m langchain_tpo.cli ARGS`, its output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "langchain_tpo.cli", *args],
        capture_output=True,
        text=True,
        env=OFFLINE,
        timeout=timeout,
    )
