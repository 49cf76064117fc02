"""A live progress line per dataset: done/total, throughput, ETA, running score, errors."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class Progress:
    def __init__(self, name: str, total: int, already: int = 0, quiet: bool = False,
                 stream=None) -> None:
        self.name, self.total, self.already = name, total, already
        self.done = already
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.score_sum = 0.0
        self.scored = 0
        self.errors = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._next_pct = 10

    def update(self, score: float | None, error: bool = False) -> None:
        self.done += 1
        if error:
            self.errors += 1
        elif score is not None:
            self.score_sum += score
            self.scored += 1
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty and now - self._last_draw >= 0.1:
            self._draw("\r", now)
        elif not self.tty and self.total and self.done * 100 >= self._next_pct * self.total:
            self._next_pct += 10
            self._draw("", now, end="\n")

    def _draw(self, prefix: str, now: float, end: str = "") -> None:
        self._last_draw = now
        self._drawn = self.done
        elapsed = now - self.start
        new = self.done - self.already
        rate = new / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        acc = f"{self.score_sum / self.scored:.3f}" if self.scored else "-"
        pct = 100 * self.done / self.total if self.total else 100
        line = (f"{self.name}: {self.done}/{self.total} ({pct:3.0f}%) {rate:7.1f}/s "
                f"elapsed {_clock(elapsed)} eta {_clock(eta)} score {acc} errors {self.errors}")
        self.stream.write(prefix + line + ("\x1b[K" if self.tty else "") + end)
        self.stream.flush()

    def close(self) -> None:
        if not self.quiet and (self.tty or getattr(self, "_drawn", None) != self.done):
            self._draw("\r" if self.tty else "", time.monotonic(), end="\n")
