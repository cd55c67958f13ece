"""Files written by the ingest pool's workers, moved into storage by the process that stores.

Writing a CT slice's half megabyte is a good part of what the storing process would otherwise
do per instance, and it is the one process of a batch that cannot be parallelised. So where
storage is a local folder, a worker writes the bytes it prepared to a staging folder on the same
file system, and the storing process renames the file into place once it decides to store the
instance (a rename, not a copy). Every staged file is either moved or removed by the batch that
asked for it; files older than STALE_SECONDS (a process killed mid-batch) are swept.
"""

import contextlib
import os
import time
import uuid
from pathlib import Path

from django.core.files.storage import FileSystemStorage, default_storage

STAGING_FOLDER = "incoming"
STALE_SECONDS = 3600
_swept: set[str] = set()  # staging folders this process has swept


def staging_dir() -> str | None:
    """Where workers may stage files for default storage; None where storage is not local."""
    storage = _local_storage()
    if storage is None:
        return None
    directory = str(Path(storage.location) / STAGING_FOLDER)
    if directory not in _swept:
        os.makedirs(directory, exist_ok=True)
        sweep(directory)
        _swept.add(directory)
    return directory


def write_staged(directory: str, data: bytes) -> str | None:
    """Write `data` to a new staged file (in a worker); None where it could not be written
    (the storing process then writes the bytes itself, and meets the same error, if any)."""
    path = os.path.join(directory, f"{uuid.uuid4().hex}.dcm")
    try:
        with open(path, "xb") as staged:
            staged.write(data)
    except OSError:
        discard(path)
        return None
    return path


def move_into_storage(staged: str, name: str) -> bool:
    """Rename the staged file to storage name `name`; False where it was not moved: the name
    is taken (the same bytes are there already: names are content hashes), or the rename
    failed (another file system, say), and the caller writes the bytes as usual."""
    storage = _local_storage()
    if storage is None:
        return False
    path = storage.path(name)
    if os.path.exists(path):
        return False
    directory = os.path.dirname(path)
    if not os.path.isdir(directory):
        os.makedirs(directory, exist_ok=True)
        if storage.directory_permissions_mode is not None:
            os.chmod(directory, storage.directory_permissions_mode)
    try:
        os.replace(staged, path)
    except OSError:
        return False
    if storage.file_permissions_mode is not None:
        os.chmod(path, storage.file_permissions_mode)
    return True


def _local_storage() -> FileSystemStorage | None:
    # default_storage is a lazy proxy; isinstance sees the storage it stands for.
    return default_storage if isinstance(default_storage, FileSystemStorage) else None


def discard(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # moved into storage, or never written
        os.unlink(path)


def sweep(directory: str) -> None:
    """Remove staged files left by a process that died mid-batch."""
    cutoff = time.time() - STALE_SECONDS
    with os.scandir(directory) as entries:
        for entry in entries:
            with contextlib.suppress(FileNotFoundError):  # another process swept it first
                if entry.is_file() and entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
