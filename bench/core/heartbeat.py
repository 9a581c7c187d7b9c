"""A heartbeat for long steps: while a block runs, a background thread tells ``show`` how long it has been running,
so a fit of many minutes shows it is alive (a progress bar's postfix, a line on stderr) instead of sitting silent.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from types import TracebackType


def elapsed(seconds: float) -> str:
    """``42 s``, ``3 min 05 s``."""
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes} min {secs:02d} s" if minutes else f"{secs} s"


class Heartbeat:
    """``with Heartbeat(show, "fitting"):`` calls ``show("fitting 12 s")`` every ``every`` seconds once the block
    has run ``after`` seconds; ``show=None`` does nothing. ``show`` runs on the heartbeat's thread."""

    def __init__(self, show: Callable[[str], None] | None, what: str, *, after: float = 3.0,
                 every: float = 1.0) -> None:
        self.show, self.what, self.after, self.every = show, what, after, every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.beats = 0

    def __enter__(self) -> Heartbeat:
        self._start = time.monotonic()
        if self.show is not None:
            self._thread = threading.Thread(target=self._run, name=f"heartbeat: {self.what}", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        first = True
        while not self._stop.wait(self.after if first else self.every):
            first = False
            self.beats += 1
            try:
                self.show(f"{self.what} {elapsed(time.monotonic() - self._start)}")  # type: ignore[misc]
            except Exception:  # noqa: BLE001 - a broken display must never stop the work it reports on
                return

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
