"""The disk under the data home: enough free space before a step writes, and a failed write told
as what it is (which step, which path, how much is free), with the step's temporary files gone.
"""

from __future__ import annotations

import errno
import shutil
from collections.abc import Iterable
from pathlib import Path

DEFAULT_MIN_FREE_BYTES = 256 << 20  # Settings.min_free_bytes (TEILHABE_MIN_FREE_MB)
_FULL_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO}
_FULL_TEXTS = ("no space left", "disk i/o error", "disk is full", "could not write", "quota exceeded")


class StorageError(RuntimeError):
    """A step could not write: the disk is full or failing. The message names step and path."""


def free_bytes(path: Path) -> int:
    """Free bytes on the file system holding ``path`` (or its nearest existing parent)."""
    existing = Path(path)
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    return shutil.disk_usage(existing).free


def _mb(value: int) -> str:
    return f"{value / 2**20:,.0f} MB"


def require_free_space(path: Path, step: str, need: int = 0, keep_free: int = DEFAULT_MIN_FREE_BYTES) -> None:
    """Refuse to start a writing step when the disk cannot hold what it writes (``need`` bytes
    beyond the ``keep_free`` minimum; a minimum of 0 switches the check off)."""
    if keep_free == 0:
        return
    free, wanted = free_bytes(path), need + keep_free
    if free < wanted:
        raise StorageError(
            f"{step}: only {_mb(free)} free on the disk of {path}, need {_mb(wanted)} "
            f"(free space, or lower TEILHABE_MIN_FREE_MB)"
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
