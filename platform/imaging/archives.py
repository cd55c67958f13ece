"""Safe expansion of what people hand us (files, folders, .zip archives) into ingest items.

Every ingest path (upload page, `import_dicom`) turns its input into a stream of entries:
an `Item` to give to `services.ingest_batch`, an `IngestReport` already marked rejected (a zip
member we refuse to inflate), or a `Skipped` file that is obviously not DICOM (`.DS_Store`,
`__MACOSX/`, LIDC's XML reads). So each file the person chose gets one line in the report, and
nothing here raises for bad input.

Zip members are never trusted: names with absolute paths, `..` components or symlink modes are
refused (we never write them to disk, but a name like that means a hostile or broken archive),
and each member is inflated with a bounded read, so neither a lying header nor a zip bomb can
make us hold more than the limits in settings (DICOM_MAX_INSTANCE_BYTES per member,
DICOM_MAX_ZIP_RATIO inflation, DICOM_MAX_UPLOAD_BYTES for everything one upload inflates to).
"""

from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, ClassVar

from django.conf import settings

from imaging.outcomes import IngestReport, Outcome
from imaging.services import ingest_batch
from projects.models import Project

ZIP_MAGIC = b"PK\x03\x04"
EMPTY_ZIP_MAGIC = b"PK\x05\x06"
READ_CHUNK = 1024 * 1024
# Below this many inflated bytes a member is not held to DICOM_MAX_ZIP_RATIO: it cannot hurt,
# and a mostly empty DICOM SEG or a padded CT slice legitimately deflates beyond 200:1.
RATIO_FREE_BYTES = 1024 * 1024
# The central directory is parsed into memory before any member is read; a crafted archive
# with millions of empty entries would cost gigabytes there, so we count entries first.
MAX_ZIP_MEMBERS = 100_000
# Names that are never DICOM: OS litter and the sidecar files that travel with exports.
JUNK_NAMES = frozenset({".ds_store", "thumbs.db", "desktop.ini", "dicomdir"})
JUNK_DIRS = frozenset({"__macosx", ".git", ".svn"})
NOT_DICOM_SUFFIXES = frozenset(
    {".xml", ".txt", ".csv", ".json", ".md", ".html", ".htm", ".pdf", ".log", ".ini", ".py"}
)
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True, slots=True)
class Item:
    """One file's bytes, ready for `ingest_batch`."""

    name: str
    data: bytes


@dataclass(frozen=True, slots=True)
class Skipped:
    """A file left out on purpose because it is obviously not DICOM; not an error."""

    name: str
    reason: str
    # Reads like IngestReport.outcome, so reports of both kinds can be listed together.
    outcome: ClassVar[str] = "skipped"


Entry = Item | Skipped | IngestReport


def rejected(name: str, reason: str) -> IngestReport:
    return IngestReport(outcome=Outcome.REJECTED, name=name, reason=reason)


def human_size(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB"):
        if value < 1024:
            return f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


@dataclass(slots=True)
class Budget:
    """How many more bytes one upload (or one archive of an import) may inflate to."""

    remaining: int = field(default_factory=lambda: int(settings.DICOM_MAX_UPLOAD_BYTES))

    def refusal(self) -> str:
        return (
            "over DICOM_MAX_UPLOAD_BYTES "
            f"({human_size(settings.DICOM_MAX_UPLOAD_BYTES)}) for one upload or archive; not read"
        )


def junk_reason(name: str) -> str | None:
    """Why `name` (a path inside a folder or archive) is skipped, or None to ingest it."""
    parts = [part for part in re.split(r"[/\\]", name) if part]
    if not parts:
        return "empty name"
    if any(part.lower() in JUNK_DIRS for part in parts[:-1]):
        return "operating-system or version-control folder"
    base = parts[-1].lower()
    if base in JUNK_NAMES:
        return "DICOMDIR index" if base == "dicomdir" else "operating-system file"
    if base.startswith("._"):
        return "macOS resource fork"
    if PurePosixPath(base).suffix in NOT_DICOM_SUFFIXES:
        return f"not DICOM ({PurePosixPath(base).suffix} file)"
    return None


def looks_like_zip(name: str, head: bytes) -> bool:
    return name.lower().endswith(".zip") or head.startswith((ZIP_MAGIC, EMPTY_ZIP_MAGIC))


def expand_upload(
    name: str, stream: IO[bytes], size: int, budget: Budget | None = None
) -> Iterator[Entry]:
    """Entries for one uploaded file: its members if it is a zip, else the file itself."""
    budget = budget if budget is not None else Budget()
    head = stream.read(4)
    stream.seek(0)
    if looks_like_zip(name, head):
        yield from expand_zip(name, stream, budget)
        return
    yield _plain(name, stream, size, budget)


def expand_paths(paths: Iterable[Path]) -> Iterator[Entry]:
    """Entries for files, folders (recursively, sorted) and zip archives on disk.

    Each zip gets its own DICOM_MAX_UPLOAD_BYTES budget: a local import of many archives is
    bounded per archive, not in total, since its input is the operator's own disk.
    """
    for path in paths:
        for file_path, relative in _files_under(path):
            display = str(file_path)
            reason = junk_reason(relative)
            if reason is not None:
                yield Skipped(display, reason)
                continue
            try:
                stream = file_path.open("rb")
            except OSError as error:
                yield rejected(display, f"cannot read the file ({error.strerror})")
                continue
            with stream:
                size = os.fstat(stream.fileno()).st_size
                yield from expand_upload(display, stream, size, Budget())


def count_paths(paths: Iterable[Path]) -> int:
    """How many entries `expand_paths` will yield (zip members counted), for a progress bar."""
    total = 0
    for path in paths:
        for file_path, relative in _files_under(path):
            total += 1
            if junk_reason(relative) is None and _is_zip_file(file_path):
                try:
                    with zipfile.ZipFile(file_path) as archive:
                        members = sum(1 for info in archive.infolist() if not info.is_dir())
                        total += max(members - 1, 0)
                except (zipfile.BadZipFile, OSError, ValueError, EOFError):
                    pass  # expand_paths reports it; the bar is only an estimate
    return total


def _files_under(path: Path) -> Iterator[tuple[Path, str]]:
    """Each file and its name relative to `path` (what junk is judged by: not the parents
    the operator typed)."""
    if path.is_dir():
        # Symlinks are not followed: a link loop or a link out of the folder is not an input.
        for root, dirs, files in os.walk(path, followlinks=False):
            dirs.sort()
            for file_name in sorted(files):
                file_path = Path(root) / file_name
                if file_path.is_file() and not file_path.is_symlink():
                    yield file_path, str(file_path.relative_to(path))
    else:
        yield path, path.name


def _is_zip_file(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return looks_like_zip(path.name, stream.read(4))
    except OSError:
        return False


def _plain(name: str, stream: IO[bytes], size: int, budget: Budget) -> Entry:
    limit = int(settings.DICOM_MAX_INSTANCE_BYTES)
    if size > limit:
        return rejected(name, _too_big(size, limit))
    if size > budget.remaining:
        return rejected(name, budget.refusal())
    data = _bounded_read(stream, min(limit, budget.remaining))
    if data is None:  # grew while we read it
        return rejected(name, _too_big(limit + 1, limit))
    budget.remaining -= len(data)
    return Item(name, data)


def _too_big(size: int, limit: int) -> str:
    return (
        f"{human_size(size)} is over DICOM_MAX_INSTANCE_BYTES ({human_size(limit)}) "
        "for one instance"
    )


def expand_zip(name: str, stream: IO[bytes], budget: Budget) -> Iterator[Entry]:
    """Entries for the members of one zip archive (directories are not files: left out)."""
    count = _declared_member_count(stream)
    if count is not None and count > MAX_ZIP_MEMBERS:
        yield rejected(name, f"archive lists {count} members; at most {MAX_ZIP_MEMBERS}")
        return
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zlib.error, ValueError, EOFError, NotImplementedError) as error:
        yield rejected(name, f"not a readable zip archive ({_first_line(error)})")
        return
    with archive:
        members = archive.infolist()
        if len(members) > MAX_ZIP_MEMBERS:
            yield rejected(name, f"archive lists {len(members)} members; at most {MAX_ZIP_MEMBERS}")
            return
        for info in members:
            if info.is_dir():
                continue
            yield _member(archive, info, f"{name}/{info.filename}", budget)


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, shown: str, budget: Budget) -> Entry:
    refusal = _unsafe_name(info)
    if refusal is not None:
        return rejected(shown, refusal)
    reason = junk_reason(info.filename)
    if reason is not None:
        return Skipped(shown, reason)
    if info.filename.lower().endswith(".zip"):
        return rejected(shown, "nested archive: not expanded (unzip it and upload its files)")
    if info.flag_bits & 0x1:
        return rejected(shown, "encrypted member: not supported")

    max_instance = int(settings.DICOM_MAX_INSTANCE_BYTES)
    max_ratio = int(settings.DICOM_MAX_ZIP_RATIO)
    ratio_limit = max(RATIO_FREE_BYTES, max_ratio * info.compress_size)
    # The declared size is checked first only because it is free; the bounded read below
    # enforces the same limits on the bytes that actually come out.
    declared = info.file_size
    if declared > max_instance:
        return rejected(shown, _too_big(declared, max_instance))
    if declared > ratio_limit:
        return rejected(shown, _ratio_refusal(declared, info.compress_size, max_ratio))
    if declared > budget.remaining:
        return rejected(shown, budget.refusal())

    limit = min(max_instance, ratio_limit, budget.remaining)
    try:
        with archive.open(info) as member:
            data = _bounded_read(member, limit)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        return rejected(shown, f"damaged zip member ({_first_line(error)})")
    except (NotImplementedError, RuntimeError) as error:
        return rejected(shown, f"unsupported zip member ({_first_line(error)})")
    if data is None:
        if limit == budget.remaining:
            return rejected(shown, budget.refusal())
        if limit == max_instance:
            return rejected(shown, _too_big(limit + 1, max_instance))
        return rejected(shown, _ratio_refusal(limit + 1, info.compress_size, max_ratio))
    budget.remaining -= len(data)
    if data.startswith(ZIP_MAGIC):
        return rejected(shown, "nested archive: not expanded (unzip it and upload its files)")
    return Item(shown, data)


def _ratio_refusal(size: int, compressed: int, max_ratio: int) -> str:
    ratio = size / compressed if compressed else float("inf")
    return (
        f"inflates {ratio:.0f}:1, over DICOM_MAX_ZIP_RATIO ({max_ratio}:1): "
        "refused as a likely zip bomb"
    )


def _unsafe_name(info: zipfile.ZipInfo) -> str | None:
    # ZipInfo normalises separators to "/" on every platform; the original name is kept in
    # orig_filename, so both are checked (a backslash name is still a Windows path).
    for candidate in (info.filename, info.orig_filename):
        if "\x00" in candidate:
            return "member name contains a NUL byte"
        if candidate.startswith(("/", "\\")) or _DRIVE.match(candidate):
            return "absolute path in archive: refused"
        if ".." in re.split(r"[/\\]", candidate):
            return "'..' in archive path: refused"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "symbolic link in archive: refused"
    return None


def _bounded_read(stream: IO[bytes], limit: int) -> bytes | None:
    """At most `limit` bytes from `stream`, or None if there were more."""
    buffer = io.BytesIO()
    while True:
        chunk = stream.read(min(READ_CHUNK, limit + 1 - buffer.tell()))
        if not chunk:
            return buffer.getvalue()
        buffer.write(chunk)
        if buffer.tell() > limit:
            return None


def _declared_member_count(stream: IO[bytes]) -> int | None:
    """The entry count from the end-of-central-directory record (zip64 aware), unparsed."""
    try:
        stream.seek(0, os.SEEK_END)
        size = stream.tell()
        tail_start = max(0, size - (22 + 65535))
        stream.seek(tail_start)
        tail = stream.read()
    finally:
        stream.seek(0)
    at = tail.rfind(EMPTY_ZIP_MAGIC)
    if at < 0 or at + 22 > len(tail):
        return None
    (count,) = struct.unpack_from("<H", tail, at + 10)
    if count != 0xFFFF:
        return int(count)
    # zip64: the locator sits just before the classic record and points at the zip64 record.
    locator = at - 20
    if locator < 0 or tail[locator : locator + 4] != b"PK\x06\x07":
        return None
    (record_offset,) = struct.unpack_from("<Q", tail, locator + 8)
    try:
        stream.seek(record_offset)
        record = stream.read(56)
    finally:
        stream.seek(0)
    if len(record) < 56 or record[:4] != b"PK\x06\x06":
        return None
    (count64,) = struct.unpack_from("<Q", record, 32)
    return int(count64)


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:120] if text else type(error).__name__


Result = IngestReport | Skipped
BATCH_FILES = 32
BATCH_BYTES = 256 * 1024**2


def ingest_entries(
    *,
    project: Project,
    entries: Iterable[Entry],
    batch_files: int = BATCH_FILES,
    batch_bytes: int = BATCH_BYTES,
) -> Iterator[Result]:
    """One result per entry, in order, giving items to `ingest_batch` a bounded batch at a time.

    A batch ends at `batch_files` items or `batch_bytes` bytes, whichever comes first, so a
    folder of thousands of slices is never held in memory at once.
    """
    pending: list[Entry] = []
    files = size = 0
    for entry in entries:
        pending.append(entry)
        if isinstance(entry, Item):
            files, size = files + 1, size + len(entry.data)
            if files >= batch_files or size >= batch_bytes:
                yield from _ingest_pending(project, pending)
                pending, files, size = [], 0, 0
    yield from _ingest_pending(project, pending)


def _ingest_pending(project: Project, pending: list[Entry]) -> Iterator[Result]:
    items = [(entry.name, entry.data) for entry in pending if isinstance(entry, Item)]
    reports = iter(ingest_batch(project=project, items=items) if items else [])
    for entry in pending:
        yield next(reports) if isinstance(entry, Item) else entry
