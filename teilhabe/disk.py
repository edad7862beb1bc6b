"""The disk under the data home: enough free space before a step writes, and a failed write told
as what it is (which step, which path, how much is free), with the step's temporary files gone.
"""

from __future__ import annotations

import errno
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

MIN_FREE_ENV = "TEILHABE_MIN_FREE_MB"
DEFAULT_MIN_FREE_MB = 256
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}
_FULL_TEXTS = ("no space left", "disk i/o error", "disk is full", "could not write", "quota exceeded")


class StorageError(RuntimeError):
    """A step could not write: the disk is full or failing. The message names step and path."""


def min_free_bytes() -> int:
    return int(os.environ.get(MIN_FREE_ENV, DEFAULT_MIN_FREE_MB)) << 20


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def _mb(value: int) -> str:
    return f"{value / 2**20:,.0f} MB"


def require_free_space(path: Path, step: str, need: int = 0) -> None:
    """Refuse to start a writing step when the disk cannot hold what it writes (``need`` bytes
    beyond the minimum kept free; a minimum of 0 switches the check off)."""
    if min_free_bytes() == 0:
        return
    free, wanted = free_bytes(path), need + min_free_bytes()
    if free < wanted:
        raise StorageError(
            f"{step}: only {_mb(free)} free on the disk of {path}, need {_mb(wanted)} "
            f"(free space, or lower {MIN_FREE_ENV})"
        )


def is_disk_full(error: BaseException) -> bool:
    """An OSError for a full or failing disk, or a library's error that says so in words (DuckDB,
    SQLite, dbt only give text)."""
    for current in (error, error.__cause__, error.__context__):
        if isinstance(current, OSError) and current.errno in _FULL_ERRNOS:
            return True
        if current is not None and any(text in str(current).lower() for text in _FULL_TEXTS):
            return True
    return False


def storage_error(step: str, path: Path, error: BaseException, detail: str | None = None) -> StorageError:
    """The error to report: step, path, free space, and what the failing library said."""
    text = detail or (str(error).strip().splitlines() or [type(error).__name__])[0]
    return StorageError(
        f"{step}: writing {path} failed, the disk is full ({_mb(free_bytes(path))} free): {text[:200]}"
    )


def remove_temporary(paths: Iterable[Path]) -> None:
    """Remove a failed step's temporary files and folders (never raises)."""
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
