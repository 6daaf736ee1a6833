"""Atomic file writes: a file is written under a temporary name in its own folder, flushed to disk, then
renamed over the target with `os.replace`, so a reader (or a process killed in the middle of the write)
sees either the previous file whole or the new file whole, never a torn one."""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager

TMP_SUFFIX = ".tmp"  # temporary files are `.<name>.<random>.tmp`: hidden, and no checkpoint menu lists them


@contextmanager
def replacing(path: str | os.PathLike):
    """Yield a temporary path beside `path`; when the block ends without an exception, the temporary file
    is flushed to disk and renamed to `path`. On an exception it is removed and `path` is untouched."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=TMP_SUFFIX)
    os.close(fd)
    try:
        # mkstemp makes the file private (0600); keep the mode of the file replaced, else rw-r--r--
        os.chmod(tmp, os.stat(path).st_mode & 0o777 if os.path.exists(path) else 0o644)
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    _sync_folder(folder)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write `text` (UTF-8) to `path` atomically."""
    with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write `data` to `path` atomically."""
    with replacing(path) as tmp, open(tmp, "wb") as f:
        f.write(data)


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
