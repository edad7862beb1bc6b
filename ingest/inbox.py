"""The drop folder as the pipeline sees it: which entries are deliveries, what they are called, and
reading one safely.

Senders and their SFTP clients put anything into an inbox: names in old 8-bit encodings or with
control characters, symbolic links, directories, FIFOs, hidden files, uploads still in progress,
files that grow while they are read. Each entry is either a regular file to take (its name shown
escaped where it is not printable UTF-8), an upload in progress (``*.part``, taken when renamed),
or an ignored entry with the reason why. Symbolic links are never followed, and a file is opened
so that nothing can be swapped in between looking at it and reading it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import struct
import unicodedata
import uuid
from dataclasses import dataclass, field
from pathlib import Path

READ_BLOCK = 1 << 20
UPLOAD_SUFFIX = ".part"
# The inbox's one folder: files a sender wants checked, not delivered (publish/check_reports.py).
CHECK_FOLDER = "pruefen"


def display_name(raw: bytes) -> str:
    """A file name as text that can be logged, stored and printed, one to one with the bytes: valid
    UTF-8 stays as it is, a byte that is not UTF-8 becomes ``\\xNN``, a control or format character
    ``\\xNN`` / ``\\uNNNN``, a backslash ``\\\\`` (so that no two names look alike)."""
    shown = []
    for char in raw.decode("utf-8", "surrogateescape"):
        code = ord(char)
        if char == "\\":
            shown.append("\\\\")
        elif 0xDC80 <= code <= 0xDCFF:  # an undecodable byte, kept by surrogateescape
            shown.append(f"\\x{code - 0xDC00:02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            shown.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            shown.append(char)
    return "".join(shown)


def name_problem(raw: bytes) -> str | None:
    """Why a name cannot be a delivery's, or None. Control and format characters (a newline, a
    right-to-left override) would make the name print as something it is not."""
    text = raw.decode("utf-8", "surrogateescape")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in text):
        return "Dateiname enthält Steuerzeichen (z. B. einen Zeilenumbruch); bitte die Datei umbenennen"
    return None


BIGINT = (-(2**63), 2**63 - 1)


def signature_of(info: os.stat_result) -> tuple[int, int, int, int]:
    """A file's size, times and inode as the warehouse stores them (BIGINT). A time beyond 64 bits
    of nanoseconds (a file dated 2300 by a tool that sets times: rsync, touch -d) stopped every run
    that met it, and the files behind it waited (a hostile-input review): it counts as the last
    time 64 bits hold (it is no receipt time either way: that is never later than now). An inode
    number above 2^63 (some network file systems) is kept as its two's complement, still one to one."""
    low, high = BIGINT
    mtime, ctime = (min(max(t, low), high) for t in (info.st_mtime_ns, info.st_ctime_ns))
    inode = info.st_ino - 2**64 if info.st_ino > high else info.st_ino
    return info.st_size, mtime, ctime, inode


@dataclass(frozen=True)
class InboxFile:
    """A regular file of the inbox as found by the scan."""

    path: bytes  # the raw path: never decoded, so any name can be opened
    name: str  # display_name() of the file name
    size: int
    mtime_ns: int
    ctime_ns: int  # changes whenever the bytes change, even if the mtime is set back
    inode: int

    @classmethod
    def of(cls, path: bytes, name: str, info: os.stat_result) -> InboxFile:
        return cls(path, name, *signature_of(info))

    @property
    def signature(self) -> tuple[int, int, int, int]:
        return (self.size, self.mtime_ns, self.ctime_ns, self.inode)


@dataclass(frozen=True)
class IgnoredEntry:
    name: str
    kind: str  # directory | symlink | fifo | socket | device | hidden | unstable | unreadable | no_space
    reason: str


@dataclass
class InboxScan:
    files: list[InboxFile] = field(default_factory=list)
    ignored: list[IgnoredEntry] = field(default_factory=list)
    uploads_in_progress: list[str] = field(default_factory=list)


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "directory"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if stat.S_ISSOCK(mode):
        return "socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    return "special"


def check_folder(inbox: Path) -> Path | None:
    """The inbox's check folder, if it is a folder of its own: a symbolic link named so (the
    inbox belongs to the senders) would have the pipeline read and delete files elsewhere."""
    folder = inbox / CHECK_FOLDER
    try:
        return folder if stat.S_ISDIR(os.lstat(folder).st_mode) else None
    except OSError:
        return None


def scan_inbox(inbox: Path) -> InboxScan:
    """Every entry of the inbox, classified, with one lstat each (symbolic links not followed)."""
    scan = InboxScan()
    with os.scandir(os.fsencode(inbox)) as entries:
        for entry in entries:
            raw, name = entry.name, display_name(entry.name)
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError as error:  # vanished between listing and looking
                scan.ignored.append(IgnoredEntry(name, "unreadable", f"cannot be examined: {error.strerror}"))
                continue
            if raw.endswith(UPLOAD_SUFFIX.encode()) and stat.S_ISREG(info.st_mode):
                scan.uploads_in_progress.append(name)
            elif stat.S_ISLNK(info.st_mode):
                dangling = not os.path.exists(entry.path)
                scan.ignored.append(
                    IgnoredEntry(
                        name,
                        "symlink",
                        "a symbolic link"
                        + (" pointing nowhere" if dangling else "")
                        + ": not followed (deliveries are regular files)",
                    )
                )
            elif raw == CHECK_FOLDER.encode() and stat.S_ISDIR(info.st_mode):
                continue  # its files are checked apart, never delivered
            elif not stat.S_ISREG(info.st_mode):
                kind = _kind(info.st_mode)
                scan.ignored.append(IgnoredEntry(name, kind, f"a {kind}, not a file: not a delivery"))
            elif raw.startswith(b"."):
                scan.ignored.append(
                    IgnoredEntry(name, "hidden", "a hidden file (name starts with '.'): not a delivery")
                )
            else:
                scan.files.append(InboxFile.of(entry.path, name, info))
    return scan


class Unstable(Exception):
    """The file changed, vanished or was replaced while it was being read: take it next run."""


@dataclass(frozen=True)
class Taken:
    """A file read once: its hash and size, and its bytes unless it is larger than asked to keep."""

    sha256: str
    size: int
    content: bytes | None  # None: larger than the limit (hashed and archived, not kept)


def _open_regular(file: InboxFile) -> int:
    """A descriptor of exactly the file the scan saw: no symbolic link followed, no FIFO or device
    opened (O_NONBLOCK never waits for a writer), the same inode."""
    try:
        descriptor = os.open(file.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ELOOP, errno.ENXIO):
            raise Unstable(f"replaced or removed while being read ({error.strerror})") from None
        if error.errno in (errno.EACCES, errno.EPERM):  # the file's problem, not the run's
            raise Unstable(
                f"not readable by the pipeline ({error.strerror}): left until its permissions allow it"
            ) from None
        raise
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode) or signature_of(info)[3] != file.inode:
        os.close(descriptor)
        raise Unstable("replaced while being read")
    return descriptor


ZIP_DIRECTORY_READ = 4 * 1024 * 1024  # a workbook's central directory is a few KB; beyond: weighs its most


def read_weight(file: InboxFile, most: int) -> int:
    """What reading a file costs in memory, as its bytes count against a batch's bytes: a
    workbook's (a zip's) unpacked size from its central directory, at most ``most``. A workbook of
    66 KB held 45,000 rows in which every row was faulty; thirty of them, 2 MB within every limit,
    took a run of the check folder to 7 GB (a hostile-input review). A file whose directory cannot
    be read as expected weighs ``most``; one that is no zip, its size."""
    try:
        descriptor = _open_regular(file)
    except (Unstable, OSError):
        return file.size  # the read itself will say why
    with os.fdopen(descriptor, "rb") as handle:
        if handle.read(4) != b"PK\x03\x04":
            return file.size
        return max(file.size, min(_unpacked_zip_bytes(handle, file.size, most), most))


def _unpacked_zip_bytes(handle, size: int, most: int) -> int:
    """The sum of a zip's entries' unpacked sizes, read from its end record and central directory
    only (no entry is unpacked); ``most`` where they are not what a workbook writes (zip64, a
    directory beyond ZIP_DIRECTORY_READ, a broken record)."""
    tail = min(size, 22 + 65535)  # the end record, after at most a comment of 64 KB
    handle.seek(size - tail)
    end = handle.read(tail)
    at = end.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(end):
        return most
    _, _, _, _, entries, directory_size, directory_at, _ = struct.unpack_from("<4s4H2LH", end, at)
    if directory_size > ZIP_DIRECTORY_READ or directory_at + directory_size > size:
        return most
    handle.seek(directory_at)
    directory = handle.read(directory_size)
    total, position = 0, 0
    for _ in range(entries):
        if position + 46 > len(directory) or directory[position : position + 4] != b"PK\x01\x02":
            return most
        fields = struct.unpack_from("<4s6H3L5H2L", directory, position)
        unpacked, name, extra, comment = fields[9], fields[10], fields[11], fields[12]
        if unpacked == 0xFFFFFFFF:  # zip64: no workbook of ours is that large
            return most
        total += unpacked
        if total >= most:
            return most
        position += 46 + name + extra + comment
    return total


def _hash_stream(
    descriptor: int, expected: int, sink=None, keep_up_to: int = -1
) -> tuple[str, int, bytes | None]:
    """Hash (and copy) at most the ``expected`` bytes the scan saw, and one more: a file that is
    longer now is still being written, and a file written without end cannot keep the run."""
    digest, size, kept = hashlib.sha256(), 0, []
    while size <= expected and (block := os.read(descriptor, min(READ_BLOCK, expected + 1 - size))):
        digest.update(block)
        size += len(block)
        if sink is not None:
            sink.write(block)
        if size <= keep_up_to:
            kept.append(block)
    return digest.hexdigest(), size, (b"".join(kept) if 0 <= size <= keep_up_to else None)


def _check_unchanged(descriptor: int, file: InboxFile, size: int) -> None:
    after = os.fstat(descriptor)
    if signature_of(after)[:2] != (file.size, file.mtime_ns) or size != file.size:
        raise Unstable("still being written (its size or time changed while it was read)")


def content_hash(file: InboxFile) -> str:
    """The SHA-256 of a file's bytes, read once in blocks (memory stays flat at any size)."""
    descriptor = _open_regular(file)
    try:
        sha256, size, _ = _hash_stream(descriptor, file.size)
        _check_unchanged(descriptor, file, size)
    finally:
        os.close(descriptor)
    return sha256


def archive_path(archive: Path, sha256: str) -> Path:
    return archive / sha256[:2] / sha256


def take(file: InboxFile, archive: Path, keep_up_to: int) -> Taken:
    """Read a file once: hash it, archive it as received (content-addressed, owner-only, written
    once) and keep its bytes for reading if it is not larger than ``keep_up_to``. A write error
    (a full disk) removes the partial copy and raises. The caller makes the archive durable
    (one sync per chunk, before the delivery log commits: an fsync per file costs ~1 ms)."""
    descriptor = _open_regular(file)
    temporary = archive / f".intake-{uuid.uuid4().hex}"
    try:
        handle = os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb")
        with handle:
            sha256, size, content = _hash_stream(descriptor, file.size, handle, keep_up_to)
            _check_unchanged(descriptor, file, size)
        target = archive_path(archive, sha256)
        target.parent.mkdir(mode=0o700, exist_ok=True)
        if target.exists():
            temporary.unlink()
        else:
            os.chmod(temporary, 0o400)  # as received, never changed (privacy.md §2)
            os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    finally:
        os.close(descriptor)
    return Taken(sha256, size, content)


def read_bounded(path: Path, limit: int) -> bytes | None:
    """A file's bytes for ``teilhabe check`` (no archive), or None if it is larger than ``limit``.
    Opened without waiting for a FIFO's writer; anything but a regular file reads as empty."""
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            return b""
        content = handle.read(limit + 1)
    return None if len(content) > limit else content
