"""Exclusive locks between processes: ``fcntl.flock`` on a small file, which the kernel releases when its holder
ends, however it ends (kill -9 included), so a lock is never left behind by a dead process."""

from __future__ import annotations

import fcntl
import os
import weakref
from pathlib import Path


class FileLock:
    """An exclusive, non-blocking lock on ``path``; the holder writes a one-line note (who holds it) inside.

    The lock is held until ``release()``, until this object is garbage-collected, or until the process ends.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._release: weakref.finalize | None = None

    @property
    def held(self) -> bool:
        return self._release is not None and self._release.alive

    def acquire(self, note: str) -> bool:
        """Take the lock without waiting; False when another process (or another FileLock) holds it."""
        if self.held:
            return True
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.write(fd, (" ".join(note.split()) + "\n").encode("utf-8", "backslashreplace"))
        self._release = weakref.finalize(self, os.close, fd)
        return True

    def holder(self) -> str:
        """The note of whoever holds (or last held) the lock; '' when there is none."""
        try:
            return self.path.read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            return ""

    def release(self) -> None:
        if self._release is not None:
            self._release()  # closing the descriptor drops the lock
            self._release = None
