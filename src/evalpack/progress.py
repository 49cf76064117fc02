"""The live progress line: dataset k/n, done/total, throughput, ETA for the dataset and the
whole run, running score, errors, and the phase (requests, or scoring that is still
running: math-verify, sandbox, containers)."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class RunTotals:
    """Counts over every dataset of a run, for the overall count and ETA."""

    def __init__(self, total: int, already: int = 0, datasets: int = 1) -> None:
        self.total, self.already, self.done = total, already, already
        self.datasets = datasets
        self.start = time.monotonic()

    def eta(self, now: float) -> float:
        new = self.done - self.already
        elapsed = now - self.start
        return (self.total - self.done) * elapsed / new if new > 0 else 0.0


class Progress:
    def __init__(self, name: str, total: int, already: int = 0, quiet: bool = False,
                 stream=None, position: int | None = None, run: RunTotals | None = None) -> None:
        self.name, self.total, self.already = name, total, already
        self.done = already
        self.quiet = quiet
        self.stream = stream or sys.stderr
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.position, self.run = position, run
        self.score_sum = 0.0
        self.scored = 0
        self.errors = 0
        self.phase = "requests"
        self.pending_scores = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        self._next_pct = 10
        if already:
            # said even with --quiet: it explains why the run is faster and cheaper than expected
            self.stream.write(f"{self._label()}: resumed: {already} of {total} already answered\n")
            self.stream.flush()

    def _label(self) -> str:
        if self.position is not None and self.run is not None and self.run.datasets > 1:
            return f"{self.name} [{self.position}/{self.run.datasets}]"
        return self.name

    def update(self, score: float | None, error: bool = False) -> None:
        self.done += 1
        if self.run is not None:
            self.run.done += 1
        if error:
            self.errors += 1
        elif score is not None:
            self.score_sum += score
            self.scored += 1
        self._maybe_draw()

    def set_phase(self, phase: str, pending: int = 0) -> None:
        """requests, or "scoring (math-verify)" etc. with the number of answers still being scored."""
        changed = phase != self.phase
        self.phase, self.pending_scores = phase, pending
        if changed and not self.quiet and not self.tty:
            self._draw("", time.monotonic(), end="\n")
        else:
            self._maybe_draw()

    def _maybe_draw(self) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if self.tty and now - self._last_draw >= 0.1:
            self._draw("\r", now)
        elif not self.tty and self.total and self.done * 100 >= self._next_pct * self.total:
            while self.done * 100 >= self._next_pct * self.total:
                self._next_pct += 10
            self._draw("", now, end="\n")

    def line(self, now: float | None = None) -> str:
        now = time.monotonic() if now is None else now
        elapsed = now - self.start
        new = self.done - self.already
        rate = new / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else 0.0
        acc = f"{self.score_sum / self.scored:.3f}" if self.scored else "-"
        pct = 100 * self.done / self.total if self.total else 100
        line = (f"{self._label()}: {self.done}/{self.total} ({pct:3.0f}%) {rate:7.1f}/s "
                f"elapsed {_clock(elapsed)} eta {_clock(eta)}")
        if self.run is not None and self.run.datasets > 1:
            line += f" | run {self.run.done}/{self.run.total} eta {_clock(self.run.eta(now))}"
        line += f" | score {acc} errors {self.errors} | {self.phase}"
        if self.pending_scores:
            line += f" ({self.pending_scores} pending)"
        return line

    def _draw(self, prefix: str, now: float, end: str = "") -> None:
        self._last_draw = now
        self._drawn = self.done
        self.stream.write(prefix + self.line(now) + ("\x1b[K" if self.tty else "") + end)
        self.stream.flush()

    def close(self) -> None:
        if not self.quiet and (self.tty or getattr(self, "_drawn", None) != self.done):
            self._draw("\r" if self.tty else "", time.monotonic(), end="\n")
