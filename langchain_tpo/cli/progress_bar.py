"""A dependency-free progress bar with ETA for `tpo eval` (plain lines when not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class ProgressBar:
    """`[#####.....] 12/30  40%  0:52 elapsed  ETA 1:18  last: <note>`."""

    def __init__(self, total: int, stream: TextIO | None = None, width: int = 24) -> None:
        self.total = max(total, 1)
        self.stream = stream or sys.stderr
        self.width = width
        self.start = time.perf_counter()
        self.tty = self.stream.isatty()

    def update(self, done: int, note: str = "") -> None:
        elapsed = time.perf_counter() - self.start
        eta = elapsed / done * (self.total - done) if done else 0.0
        filled = int(self.width * done / self.total)
        line = (
            f"[{'#' * filled}{'.' * (self.width - filled)}] {done}/{self.total} "
            f"{100 * done / self.total:3.0f}%  {_clock(elapsed)} elapsed  ETA {_clock(eta)}"
            + (f"  last: {note}" if note else "")
        )
        if self.tty:
            self.stream.write("\r\x1b[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
