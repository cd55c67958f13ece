"""Ingest's parsing spread over worker processes, so that a batch uses every core.

Parsing and checking a CT slice (pydicom reading every value, its DICOM JSON, its sha256) is
about 2 ms of CPU that holds the GIL, while storing it is well under 1 ms. So a batch's files
are prepared (imaging.preparation) in a pool of processes, a window of files ahead of the one
being stored, and come back in order to the process that holds the transaction and writes the
rows; where storage is local, a worker also writes the prepared bytes to a staging file that
the storing process renames into place (imaging.staging). A file that must be rewritten with
the database's help (de-identification), a file over POOLED_MAX_BYTES and a batch of one are
prepared in process. See docs/decisions/0003-ingest-pool.md.

The workers are forked from a fork server, not from the web worker itself: forking a process
that runs threads (gunicorn's gthread workers) can copy a lock some thread held. If the pool
cannot start or a worker dies, the files are prepared in process: slower, never lost.
"""

import itertools
import logging
import multiprocessing
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, replace

from django.conf import settings

from imaging import staging
from imaging.outcomes import IngestReport
from imaging.parsing import Limits
from imaging.preparation import Candidate, prepare

logger = logging.getLogger(__name__)

# Files in flight: enough to keep every worker busy while the storing process writes a chunk
# (imaging.services.COMMIT_EVERY files), few enough to bound memory (~32 MB of CT slices).
WINDOW = 64
# A larger file is not worth copying through a pipe twice (and may be hundreds of MB).
POOLED_MAX_BYTES = 64 * 1024**2
# Imported once by the fork server, so workers start with them loaded (and the allocator
# tuned: the `config` package does that when imported).
PRELOAD = ["config", "imaging.preparation"]


@dataclass(frozen=True, slots=True)
class Received:
    """One file of a batch and, unless it is left to the storing process, its preparation."""

    name: str
    data: bytes
    prepared: Candidate | IngestReport | None  # None: prepare it in the storing process


class EarlyPreparation:
    """Files given to the pool before their batch is known to be whole (the parts of a STOW
    body that is still arriving), so that parsing overlaps receiving. The batch then takes each
    result instead of preparing the file again; a file not offered here, or whose bytes differ
    from those offered, is prepared as usual. Nothing is stored early: a body that turns out
    broken has cost CPU, and the staged files of its dropped results are removed."""

    def __init__(self, *, project_id: int, limits: Limits, staging: str | None) -> None:
        self._executor = _executor()
        self._task = _Task(project_id, limits, staging)
        self._offered: dict[str, tuple[bytes, Future]] = {}

    def offer(self, name: str, data: bytes) -> bool:
        """Whether the pool took the file (it takes a window's worth)."""
        if self._executor is None or len(self._offered) >= WINDOW or name in self._offered:
            return False
        future = _submit(self._executor, name, data, self._task)
        if future is not None:
            self._offered[name] = (data, future)
        return future is not None

    def take(self, name: str, data: bytes) -> Future | None:
        offered = self._offered.pop(name, None)
        if offered is None:
            return None
        if offered[0] != data:
            _abandon(offered[1])
            return None
        return offered[1]

    def __len__(self) -> int:
        """Files offered and not taken yet."""
        return len(self._offered)

    def close(self) -> None:
        for _, future in self._offered.values():
            _abandon(future)
        self._offered.clear()

    def __enter__(self) -> "EarlyPreparation":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def prepare_ahead(
    items: Iterable[tuple[str, bytes]],
    *,
    project_id: int,
    limits: Limits,
    staging: str | None,
    early: EarlyPreparation | None = None,
) -> Iterator[Received]:
    """The items in order, each prepared by the pool where one is worth it. A prepared file
    may come staged (`staging`): the caller moves it into storage or discards it."""
    task = _Task(project_id, limits, staging)
    items = iter(items)
    head = list(itertools.islice(items, 2))
    executor = _executor() if len(head) == 2 else None
    if executor is None and early is None:
        for name, data in itertools.chain(head, items):
            yield Received(name, data, None)
        return
    window: deque[tuple[str, bytes, Future | None]] = deque()
    try:
        for name, data in itertools.chain(head, items):
            future = early.take(name, data) if early is not None else None
            if future is None and executor is not None:
                future = _submit(executor, name, data, task)
            window.append((name, data, future))
            if len(window) >= WINDOW:
                yield _collected(*window.popleft())
        while window:
            yield _collected(*window.popleft())
    finally:  # the caller stopped early (an error while storing): drop what is still queued
        for _, _, future in window:
            if future is not None:
                _abandon(future)


def start() -> None:
    """Start the workers now, so the first batch does not wait for them (web processes)."""
    executor = _executor()
    if executor is not None:
        for _ in range(settings.DICOM_INGEST_WORKERS):
            executor.submit(int)


def worker_pids() -> list[int]:
    """The pool's live worker processes (none before the first batch or start())."""
    with _lock:
        processes = getattr(_pool, "_processes", None) or {}
        return [pid for pid, process in list(processes.items()) if process.is_alive()]


@dataclass(frozen=True, slots=True)
class _Task:
    """What a worker needs besides the file: nothing it would read from settings itself."""

    project_id: int
    limits: Limits
    staging: str | None  # where to write the prepared bytes (None: send them back)


def prepare_in_worker(name: str, data: bytes, task: _Task) -> tuple[Candidate | IngestReport, bool]:
    """Runs in a worker. The bytes to store go back only when they differ from those received
    (a deflated file is stored inflated): the True flag says "the bytes you sent". Where
    `task.staging` is set, they are also written to a staged file (imaging.staging)."""
    result = prepare(name=name, data=data, project_id=task.project_id, limits=task.limits)
    if not isinstance(result, Candidate):
        return result, False
    staged = staging.write_staged(task.staging, result.stored) if task.staging else None
    if result.stored is data:
        return replace(result, stored=b"", staged=staged), True
    return replace(result, staged=staged), False


def _submit(executor: ProcessPoolExecutor, name: str, data: bytes, task: _Task) -> Future | None:
    if len(data) > POOLED_MAX_BYTES:
        return None
    try:
        return executor.submit(prepare_in_worker, name, data, task)
    except (BrokenProcessPool, RuntimeError):  # a worker died, or the pool is shut down
        _discard(executor)
        return None


def _collected(name: str, data: bytes, future: Future | None) -> Received:
    if future is None:
        return Received(name, data, None)
    try:
        prepared, as_received = future.result()
    except BrokenProcessPool:
        logger.warning("ingest pool: a worker died; preparing in process")
        _discard_broken()
        return Received(name, data, None)
    return Received(name, data, replace(prepared, stored=data) if as_received else prepared)


def _abandon(future: Future) -> None:
    """Drop a file's preparation; a staged file it wrote, or will write, is removed."""
    if not future.cancel():
        future.add_done_callback(_discard_staged)


def _discard_staged(future: Future) -> None:
    if future.cancelled() or future.exception() is not None:
        return
    prepared, _ = future.result()
    if isinstance(prepared, Candidate) and prepared.staged:
        staging.discard(prepared.staged)


_lock = threading.Lock()
_pool: ProcessPoolExecutor | None = None
_pool_pid = 0  # the process that made _pool: a forked child must make its own


def _executor() -> ProcessPoolExecutor | None:
    global _pool, _pool_pid
    workers = settings.DICOM_INGEST_WORKERS
    if workers < 1:
        return None
    with _lock:
        if _pool is None or _pool_pid != os.getpid():
            try:
                context = multiprocessing.get_context("forkserver")
                context.set_forkserver_preload(PRELOAD)
                _pool, _pool_pid = ProcessPoolExecutor(workers, mp_context=context), os.getpid()
            except (OSError, ValueError, AssertionError) as error:
                logger.warning("ingest pool: not started (%s); preparing in process", error)
                return None
        return _pool


def _discard_broken() -> None:
    with _lock:
        pool = _pool
    if pool is not None and getattr(pool, "_broken", False):  # set by the pool's manager thread
        _discard(pool)


def _discard(executor: ProcessPoolExecutor | None) -> None:
    """Forget a broken pool (the next batch starts a new one)."""
    global _pool
    if executor is None:
        return
    with _lock:
        if _pool is executor:
            _pool = None
    executor.shutdown(wait=False, cancel_futures=True)
