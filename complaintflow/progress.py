"""A progress display on stderr for long operator commands (`replay`, the restore).

On a terminal one line is rewritten in place; otherwise (a log, CI) a line is printed every
few seconds, so the output stays readable when captured.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

TTY_INTERVAL_S = 0.2
LOG_INTERVAL_S = 5.0


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def progress_line(label: str, done: int, total: int | None, elapsed_s: float,
                  unit: str = "events") -> str:
    """`label: done / total unit (pct), rate/s, ETA t` — the total may be an estimate."""
    rate = done / elapsed_s if elapsed_s > 0 else 0.0
    if total is None or total <= 0:
        return f"{label}: {done:,} {unit}, {rate:,.0f}/s, {_duration(elapsed_s)}"
    shown_total = max(total, done)  # an estimate may be passed; never show more than 100%
    eta = "ETA -" if rate <= 0 else f"ETA {_duration((shown_total - done) / rate)}"
    return (f"{label}: {done:,} / {shown_total:,} {unit} ({done / shown_total:.0%}), "
            f"{rate:,.0f}/s, {eta}")


class Progress:
    """Call update() as often as you like; it draws at most every TTY_INTERVAL_S (terminal)
    or LOG_INTERVAL_S (otherwise). finish() prints the final line and returns it."""

    def __init__(self, label: str, total: int | None = None, unit: str = "events",
                 stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic,
                 interval_s: float | None = None) -> None:
        self.label = label
        self.total = total
        self.unit = unit
        self._stream = stream if stream is not None else sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._interval = interval_s if interval_s is not None else (
            TTY_INTERVAL_S if self._tty else LOG_INTERVAL_S)
        self._clock = clock
        self._started = clock()
        self._last_drawn = self._started
        self.done = 0

    @property
    def elapsed_s(self) -> float:
        return self._clock() - self._started

    def update(self, done: int, total: int | None = None) -> None:
        self.done = done
        if total is not None:
            self.total = total
        now = self._clock()
        if now - self._last_drawn >= self._interval:
            self._last_drawn = now
            self._draw(end="")

    def finish(self) -> str:
        line = self._line()
        if self._tty:
            self._stream.write("\r\x1b[K" + line + "\n")
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
        return line

    def _line(self) -> str:
        return progress_line(self.label, self.done, self.total, self.elapsed_s, self.unit)

    def _draw(self, end: str) -> None:
        if self._tty:
            self._stream.write("\r\x1b[K" + self._line() + end)
        else:
            self._stream.write(self._line() + "\n")
        self._stream.flush()
