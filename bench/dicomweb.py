"""DICOMweb benchmark: our server against Orthanc, same data, same client, same run.

How to run (from the repository root)::

    bench/install-orthanc.sh                 # once: apt-installs orthanc, orthanc-dicomweb, -gdcm
    .venv/bin/python bench/dicomweb.py [--only ours|orthanc] [--series 0001|0003|both] [--repeat N]

(``make bench-dicomweb`` does both; it needs PostgreSQL and Redis on 127.0.0.1.) Nothing is
installed at run time. The script starts both servers itself, stops them and deletes everything
it made at the end, also on error, Ctrl-C or SIGTERM:

- Orthanc: ``/usr/sbin/Orthanc`` with a generated configuration in a temp dir (loopback port,
  DICOM server off, HTTP compression off, storage and index in the temp dir, the DICOMweb and
  GDCM plugins of the Debian packages; every other setting is Orthanc's default).
- Ours: a fresh PostgreSQL database ``noduleflow_bench`` (dropped at the end), Redis db 13 as
  the Celery broker (emptied before and after), media in the temp dir, ``PLATFORM_MODE=test``,
  ``DJANGO_DEBUG=false``, ``migrate``, a site admin with a project and an API token, gunicorn
  (4 workers x 4 threads; ``BENCH_WEB_WORKERS`` and ``BENCH_WEB_THREADS`` override them to
  compare mixes) and one Celery worker (default and gpu queues, solo pool) for series
  post-processing.

Both servers are measured by the same code, one server at a time while the other idles,
row by row in turn (Orthanc's row, then ours), so that background load on a shared
machine falls on both alike; the 1-minute load average is printed, with a note when the machine
was busy. The client: ``requests`` sessions with keep-alive, except for the frames rows: one
keep-alive ``http.client`` connection per thread there, as requests costs ~2 ms of client CPU
per 512 KB frame on a 2-core machine and would cap the client near 450 frames/s
(``--frame-client requests`` measures with requests anyway). The rows:

- STOW ingest: every selected series POSTed to ``/studies`` as ``multipart/related;
  type="application/dicom"`` (one request per series unless ``--stow-batch``); instances/s and
  MB/s (10^6 bytes of DICOM files) over the wall time of all the POSTs, once the server's
  processes are idle (done starting: a server is measured as it runs, not as it boots).
- Series metadata cold: the first complete ``GET .../series/{se}/metadata`` right after ingest
  (requests that answer early with an error or too few instances are retried for up to 3
  minutes and counted in the JSON). Then the run waits until the server's processes are idle
  (our post-processing of the new series), so the rows below measure a settled server.
  Metadata warm: the median of ``--repeat`` more requests.
- QIDO studies / series / instances: ``GET /studies``, ``/studies/{s}/series`` and
  ``/studies/{s}/series/{se}/instances``, ``--repeat`` requests each after 3 warm-up requests;
  median and p95 latency in ms. The answers are checked (our UIDs present, instance count).
- Frames: frame 1 of every instance of the series, fetched sequentially and with 6
  concurrent workers, in the original encoding (``transfer-syntax=*``) and in explicit VR little
  endian (``transfer-syntax=1.2.840.10008.1.2.1``); frames/s, the median of ``--frame-passes``
  passes after one untimed warm-up pass. Every frame's size is checked while timing; afterwards
  every frame is compared with the Pixel Data of its file, and ours with Orthanc's byte for byte.
- Rendered frame: ``GET .../frames/1/rendered`` with ``Accept: image/jpeg`` over the instances
  in turn, ``--repeat`` requests; median latency in ms.
- Server CPU per STOW instance and per frame (over all the frames rows): user + system CPU of
  the server's processes, from /proc, during the timed requests. Unlike wall time it hardly
  moves when other work shares the machine, and it says what a frame costs the server.

The ratio column is oriented so that >1 always means ours is faster (ours/Orthanc for rates,
Orthanc/ours for latencies). Targets for our figures (2-core machine) are printed beside them.
Figures also go to ``bench/results/dicomweb-<date>.json``. A request that fails on either server
is reported with its method, URL, status and body, and the run goes on with the next row.
Runs take a lock in the temp dir, so a second run waits (up to 15 minutes) for the first.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import email.message
import fcntl
import hashlib
import http.client
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

import pydicom
import requests

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]  # for bench.processes, below
from bench.processes import free_port, process, tail

DEFAULT_DATA = REPO.parent / "shared" / "data" / "lidc"
RESULTS_DIR = REPO / "bench" / "results"
VENV_BIN = REPO / ".venv" / "bin"
SERIES_DIRS = {"0001": "LIDC-IDRI-0001", "0003": "LIDC-IDRI-0003"}

EXPLICIT_LE = "1.2.840.10008.1.2.1"
ACCEPT_JSON = "application/dicom+json"
ACCEPT_FRAMES = {
    "original": 'multipart/related; type="application/octet-stream"; transfer-syntax=*',
    "explicit-le": (
        f'multipart/related; type="application/octet-stream"; transfer-syntax={EXPLICIT_LE}'
    ),
}
ACCEPT_JPEG = "image/jpeg"
CONCURRENT_WORKERS = 6
QIDO_LEVELS = ("studies", "series", "instances")
QIDO_WARMUP = 3
GET_TIMEOUT_S = 60.0
STOW_TIMEOUT_S = 600.0
METADATA_READY_TIMEOUT_S = 180.0
START_TIMEOUT_S = 90.0
# After ingest the server counts as settled once its processes used under 5% of a core for 5 s
# running (ours post-processes a series 3 s after its last instance arrives).
SETTLE_IDLE_SHARE = 0.05
SETTLE_QUIET_S = 5.0
SETTLE_TIMEOUT_S = 180.0

# One run at a time per machine: runs share the database name, the Redis db and the CPUs.
LOCK_PATH = Path(tempfile.gettempdir()) / "noduleflow-bench-dicomweb.lock"
LOCK_WAIT_S = 900.0

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
BENCH_DB = "noduleflow_bench"
REDIS_URL = "redis://127.0.0.1:6379/13"

# Targets for our figures on a 2-core machine (the metadata target is stated for a 261-slice
# series; the LIDC series here have 133 and 140 slices).
TARGET_METADATA_WARM_MS = 20.0
TARGET_QIDO_INSTANCES_MS = 20.0
TARGET_FRAMES_CONCURRENT = 1000.0
TARGET_STOW_RATIO = 2.0

Better = Literal["higher", "lower"]


class BenchError(Exception):
    """A request answered wrongly, or a server would not start; the text says which."""


class LockBusy(BenchError):
    """Another run of this benchmark holds the machine."""


class RequestFailed(BenchError):
    def __init__(self, method: str, url: str, status: int | None, body: str, why: str) -> None:
        self.method, self.url, self.status, self.body, self.why = method, url, status, body, why
        super().__init__(f"{method} {url} -> {status}: {why}; body: {body}")


@dataclass(frozen=True)
class Reply:
    """An HTTP answer with its body read in full, from either client."""

    method: str
    url: str
    status: int
    content_type: str
    body: bytes

    @classmethod
    def of(cls, response: requests.Response) -> Reply:
        method = response.request.method or "?"
        content_type = response.headers.get("Content-Type", "")
        return cls(method, response.url, response.status_code, content_type, response.content)


def failed(answer: Reply | requests.Response, why: str) -> RequestFailed:
    reply = answer if isinstance(answer, Reply) else Reply.of(answer)
    body = " ".join(reply.body[:600].decode("utf-8", "replace").split())[:400]
    return RequestFailed(reply.method, reply.url, reply.status, body, why)


class LeanConnection:
    """One keep-alive HTTP/1.1 connection (http.client) for the frames rows.

    requests spends about 2 ms of client CPU on a 512 KB frame here (1.1 ms streaming), so a
    GIL-bound client of 6 threads tops out near 450 frames/s whatever the server does; this
    costs about 0.5 ms. ``--frame-client requests`` measures with requests instead.
    """

    def __init__(self, target: Target) -> None:
        parts = urlsplit(target.base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.headers = target.headers
        self.conn: http.client.HTTPConnection | None = None

    def get(self, url: str, accept: str) -> Reply:
        parts = urlsplit(url)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        for attempt in (1, 2):
            reused = self.conn is not None
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=GET_TIMEOUT_S)
            try:
                self.conn.request("GET", path, headers={**self.headers, "Accept": accept})
                response = self.conn.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if reused and attempt == 1:
                    continue  # the server closed an idle keep-alive connection: reconnect once
                raise
            if response.will_close:
                self.close()
            content_type = response.getheader("Content-Type") or ""
            return Reply("GET", url, response.status, content_type, body)
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


# --- Data -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class InstanceFile:
    sop_uid: str
    number: int
    data: bytes  # the whole Part 10 file, as POSTed
    pixel_sha256: str  # of the file's Pixel Data value: the expected uncompressed frame


@dataclass(frozen=True)
class SeriesData:
    label: str
    study_uid: str
    series_uid: str
    instances: tuple[InstanceFile, ...]
    frame_bytes: int

    @property
    def total_bytes(self) -> int:
        return sum(len(i.data) for i in self.instances)


def load_series(data_dir: Path, label: str) -> SeriesData:
    """Every DICOM file under data_dir/LIDC-IDRI-<label> (the XML annotations are skipped)."""
    root = data_dir / SERIES_DIRS[label]
    files: list[InstanceFile] = []
    studies: set[str] = set()
    series: set[str] = set()
    frame_bytes: set[int] = set()
    for path in sorted(root.rglob("*.dcm")):
        raw = path.read_bytes()
        ds = pydicom.dcmread(path)
        studies.add(str(ds.StudyInstanceUID))
        series.add(str(ds.SeriesInstanceUID))
        if int(getattr(ds, "NumberOfFrames", 1) or 1) != 1:
            raise BenchError(f"{path}: the benchmark expects single-frame instances")
        frame_bytes.add(int(ds.Rows) * int(ds.Columns) * int(ds.BitsAllocated) // 8)
        pixels = bytes(ds.PixelData)
        files.append(
            InstanceFile(
                sop_uid=str(ds.SOPInstanceUID),
                number=int(getattr(ds, "InstanceNumber", 0) or 0),
                data=raw,
                pixel_sha256=hashlib.sha256(pixels).hexdigest(),
            )
        )
    if not files or len(studies) != 1 or len(series) != 1 or len(frame_bytes) != 1:
        raise BenchError(f"{root}: expected one series of same-sized single-frame DICOM files")
    files.sort(key=lambda f: (f.number, f.sop_uid))
    return SeriesData(
        label=label,
        study_uid=studies.pop(),
        series_uid=series.pop(),
        instances=tuple(files),
        frame_bytes=frame_bytes.pop(),
    )


# --- HTTP helpers -----------------------------------------------------------------------------
def content_type_param(content_type: str, name: str) -> str | None:
    message = email.message.Message()
    message["content-type"] = content_type
    value = message.get_param(name)
    return value if isinstance(value, str) else None


def multipart_parts(response: Reply) -> list[tuple[dict[str, str], bytes]]:
    """The parts of a multipart/related answer: (lower-cased headers, payload)."""
    content_type = response.content_type
    boundary = content_type_param(content_type, "boundary")
    if not content_type.lower().startswith("multipart/related") or not boundary:
        raise failed(response, f"not multipart/related with a boundary: {content_type!r}")
    body = response.body
    delimiter = b"--" + boundary.encode()
    parts: list[tuple[dict[str, str], bytes]] = []
    pos = body.find(delimiter)
    while pos >= 0:
        pos += len(delimiter)
        if body[pos : pos + 2] == b"--":
            return parts
        head_end = body.find(b"\r\n\r\n", pos)
        end = body.find(b"\r\n" + delimiter, head_end + 4)
        if head_end < 0 or end < 0:
            break
        headers = {}
        for line in body[pos:head_end].decode("latin-1").split("\r\n"):
            key, sep, value = line.partition(":")
            if sep:
                headers[key.strip().lower()] = value.strip()
        parts.append((headers, body[head_end + 4 : end]))
        pos = end + 2
    raise failed(response, "malformed multipart body (no closing delimiter)")


def stow_body(instances: Sequence[InstanceFile]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    chunks: list[bytes] = []
    for instance in instances:
        chunks += [f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()]
        chunks += [instance.data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode())
    return b"".join(chunks), f'multipart/related; type="application/dicom"; boundary={boundary}'


def tag_values(item: dict[str, Any], tag: str) -> list[Any]:
    value = item.get(tag, {}).get("Value", [])
    return value if isinstance(value, list) else []


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


# --- Results ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Goal:
    """A target for our figure: below or at least a limit, or a ratio to Orthanc at least it."""

    text: str
    test: Literal["below", "at_least", "ratio_at_least"]
    limit: float

    def met(self, ours: float, ratio: float | None) -> bool | None:
        if self.test == "below":
            return ours < self.limit
        if self.test == "at_least":
            return ours >= self.limit
        return None if ratio is None else ratio >= self.limit


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    unit: str
    better: Better
    goal: Goal | None = None


@dataclass
class ServerResult:
    name: str
    figures: dict[str, float] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    # Accept variant -> (series uid, SOP instance uid) -> sha256 of frame 1.
    digests: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    transfer_syntaxes: dict[str, set[str]] = field(default_factory=dict)


def build_rows(series: Sequence[SeriesData]) -> list[Row]:
    stow = Goal(f">= {TARGET_STOW_RATIO:g}x Orthanc", "ratio_at_least", TARGET_STOW_RATIO)
    qido = Goal(f"median < {TARGET_QIDO_INSTANCES_MS:g} ms", "below", TARGET_QIDO_INSTANCES_MS)
    warm = Goal(f"< {TARGET_METADATA_WARM_MS:g} ms", "below", TARGET_METADATA_WARM_MS)
    frames = Goal(f">= {TARGET_FRAMES_CONCURRENT:g}/s", "at_least", TARGET_FRAMES_CONCURRENT)
    rows = [
        Row("stow.instances_per_s", "STOW ingest", "inst/s", "higher", stow),
        Row("stow.mb_per_s", "STOW ingest", "MB/s", "higher", stow),
    ]
    for level in QIDO_LEVELS:
        goal = qido if level == "instances" else None
        rows.append(Row(f"qido.{level}.median_ms", f"QIDO {level} median", "ms", "lower", goal))
        rows.append(Row(f"qido.{level}.p95_ms", f"QIDO {level} p95", "ms", "lower"))
    for s in series:
        key, label = f"metadata.{s.label}", f"metadata {s.label} ({len(s.instances)} inst.)"
        rows.append(Row(f"{key}.cold_ms", f"{label} cold", "ms", "lower"))
        rows.append(Row(f"{key}.warm_median_ms", f"{label} warm median", "ms", "lower", warm))
    for s in series:
        for variant in ACCEPT_FRAMES:
            key, label = f"frames.{s.label}.{variant}", f"frames {s.label} {variant}"
            rows.append(Row(f"{key}.sequential", f"{label} sequential", "frames/s", "higher"))
            rows.append(
                Row(
                    f"{key}.concurrent",
                    f"{label} x{CONCURRENT_WORKERS}",
                    "frames/s",
                    "higher",
                    frames,
                )
            )
    rows.append(Row("rendered.median_ms", "rendered frame jpeg median", "ms", "lower"))
    rows.append(Row("rendered.p95_ms", "rendered frame jpeg p95", "ms", "lower"))
    # Server CPU from /proc: barely moved by other work on the machine, unlike wall time.
    rows.append(Row("cpu.stow_ms", "server CPU per STOW instance", "ms", "lower"))
    rows.append(Row("cpu.frame_ms", "server CPU per frame (all rows)", "ms", "lower"))
    return rows


# --- The measurements (identical for both servers) --------------------------------------------
@dataclass(frozen=True)
class Target:
    name: str
    base_url: str
    headers: dict[str, str]
    # The server's processes (each leads its own process group) and their logs.
    children: tuple[tuple[subprocess.Popen[bytes], Path], ...]

    @property
    def process_groups(self) -> tuple[int, ...]:
        return tuple(child.pid for child, _ in self.children)

    def died(self) -> str | None:
        """Why the server is no longer whole, or None while all its processes run."""
        for child, log in self.children:
            if child.poll() is not None:
                return f"{log.stem} exited with {child.returncode} during the run:\n{tail(log)}"
        return None

    def session(self) -> requests.Session:
        session = requests.Session()
        # Uncompressed answers from both servers (Orthanc runs with HTTP compression off).
        session.headers.update({"Accept-Encoding": "identity", **self.headers})
        return session


class Bench:
    def __init__(self, target: Target, series: Sequence[SeriesData], args: argparse.Namespace):
        self.target = target
        self.series = list(series)
        self.repeat: int = args.repeat
        self.frame_passes: int = args.frame_passes
        self.stow_batch: int = args.stow_batch
        self.frame_client: str = args.frame_client
        self.session = target.session()
        self.result = ServerResult(target.name)
        self.frames_cpu: list[tuple[float, int]] = []  # (server CPU seconds, frames) per row
        self.ingested_at = time.monotonic()

    def url(self, *parts: str) -> str:
        return "/".join([self.target.base_url.rstrip("/"), *parts])

    def series_url(self, s: SeriesData, *parts: str) -> str:
        return self.url("studies", s.study_uid, "series", s.series_uid, *parts)

    def frame_url(self, s: SeriesData, instance: InstanceFile, *parts: str) -> str:
        return self.series_url(s, "instances", instance.sop_uid, "frames", "1", *parts)

    def get(
        self, url: str, accept: str, session: requests.Session | None = None
    ) -> tuple[float, requests.Response]:
        """(seconds, response) of one GET, the body read in full."""
        start = time.perf_counter()
        response = (session or self.session).get(
            url, headers={"Accept": accept}, timeout=GET_TIMEOUT_S
        )
        _ = response.content
        return time.perf_counter() - start, response

    def timed(self, name: str, step: Callable[[], None]) -> None:
        started = time.perf_counter()
        step()
        print(f"[{self.target.name}]   {name}: {time.perf_counter() - started:.1f} s", flush=True)

    def ingest(self) -> bool:
        """STOW, then each series' cold metadata; False when STOW failed (nothing else runs)."""
        # A server still starting (workers importing, pools forking) is not measured yet.
        self.wait_idle(time.monotonic())
        load = os.getloadavg()[0]
        self.result.extra["loadavg_1min_at_start"] = load
        print(f"[{self.target.name}] {self.target.base_url} (load average {load:.2f})", flush=True)
        self.timed("stow", self.stow)
        if self.result.errors:
            print(f"[{self.target.name}]   STOW failed: the other rows are skipped", flush=True)
            return False
        for s in self.series:
            key = f"metadata.{s.label}.cold_ms"
            self.timed(f"metadata {s.label} cold", self.recorder(key, self.cold, s))
        self.ingested_at = time.monotonic()
        return True

    def steps(self) -> list[tuple[str, Callable[[], None]]]:
        """The rows after ingest, one step each, in the order every server takes them."""
        steps: list[tuple[str, Callable[[], None]]] = []
        for level in QIDO_LEVELS:
            steps.append((f"qido {level}", partial(self.qido, level)))
        for s in self.series:
            key = f"metadata.{s.label}.warm_median_ms"
            steps.append((f"metadata {s.label} warm", self.recorder(key, self.warm, s)))
        for s in self.series:
            for variant, accept in ACCEPT_FRAMES.items():
                for mode, workers in (("sequential", 1), ("concurrent", CONCURRENT_WORKERS)):
                    key = f"frames.{s.label}.{variant}.{mode}"
                    name = f"frames {s.label} {variant} x{workers}"
                    steps.append(
                        (name, self.recorder(key, self.frames, s, variant, accept, workers))
                    )
        steps.append(("rendered", self.rendered))
        return steps

    def recorder(self, key: str, action: Callable[..., float], *args: Any) -> Callable[[], None]:
        """A step that records action(*args) as the figure `key`."""
        return partial(self.record, key, partial(action, *args))

    def record(self, key: str, action: Callable[[], float]) -> None:
        try:
            self.result.figures[key] = action()
        except (BenchError, OSError, http.client.HTTPException) as error:
            self.result.errors[key] = str(error)
            print(f"[{self.target.name}]   FAILED {key}: {error}", flush=True)

    def record_many(self, keys: Sequence[str], action: Callable[[], Sequence[float]]) -> None:
        try:
            values = action()
            self.result.figures.update(zip(keys, values, strict=True))
        except (BenchError, OSError, http.client.HTTPException) as error:
            for key in keys:
                self.result.errors[key] = str(error)
            print(f"[{self.target.name}]   FAILED {', '.join(keys)}: {error}", flush=True)

    # STOW ----------------------------------------------------------------------------------
    def stow(self) -> None:
        def measure() -> Sequence[float]:
            batches: list[list[InstanceFile]] = []
            for s in self.series:
                size = self.stow_batch or len(s.instances)
                batches += [
                    list(s.instances[i : i + size]) for i in range(0, len(s.instances), size)
                ]
            bodies = [(stow_body(batch), batch) for batch in batches]  # built before timing
            server_cpu = group_cpu_seconds(self.target.process_groups)
            start = time.perf_counter()
            for (body, content_type), batch in bodies:
                response = self.session.post(
                    self.url("studies"),
                    data=body,
                    headers={"Content-Type": content_type, "Accept": ACCEPT_JSON},
                    timeout=STOW_TIMEOUT_S,
                )
                check_stow(response, batch)
            elapsed = time.perf_counter() - start
            server_cpu = group_cpu_seconds(self.target.process_groups) - server_cpu
            count = sum(len(s.instances) for s in self.series)
            size = sum(s.total_bytes for s in self.series)
            self.result.figures["cpu.stow_ms"] = server_cpu / count * 1000
            self.result.extra["stow"] = {
                "requests": len(bodies),
                "instances": count,
                "bytes": size,
                "seconds": elapsed,
            }
            return count / elapsed, size / 1e6 / elapsed

        self.record_many(["stow.instances_per_s", "stow.mb_per_s"], measure)

    # Metadata ------------------------------------------------------------------------------
    def cold(self, s: SeriesData) -> float:
        url = self.series_url(s, "metadata")
        deadline = time.monotonic() + METADATA_READY_TIMEOUT_S
        early: list[str] = []
        waited = time.perf_counter()
        while True:
            seconds, response = self.get(url, ACCEPT_JSON)
            problem = metadata_problem(response, s)
            if problem is None:
                self.result.extra[f"metadata.{s.label}.cold"] = {
                    "attempts": len(early) + 1,
                    "seconds_until_complete": time.perf_counter() - waited,
                    "early_answers": early[:5],
                }
                return seconds * 1000
            early.append(f"{response.status_code}: {problem}")
            if time.monotonic() > deadline:
                raise failed(
                    response,
                    f"still incomplete after {METADATA_READY_TIMEOUT_S:g} s: "
                    f"{problem} ({len(early)} attempts)",
                )
            time.sleep(0.05)

    def settle(self) -> None:
        """Wait until the server's processes are idle (post-processing after ingest done)."""
        last_busy = self.wait_idle(self.ingested_at)
        # From the end of this server's ingest (STOW and cold metadata) to its last busy moment.
        busy = max(0.0, last_busy - self.ingested_at)
        self.result.extra["settle"] = {"busy_seconds_after_ingest": busy}

    def wait_idle(self, last_busy: float) -> float:
        """Wait until the server's processes are idle; the last moment they were busy."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        quiet_since = time.monotonic()
        before = group_cpu_seconds(self.target.process_groups)
        while time.monotonic() < deadline:
            time.sleep(0.5)
            now = group_cpu_seconds(self.target.process_groups)
            if now - before > 0.5 * SETTLE_IDLE_SHARE:
                quiet_since = last_busy = time.monotonic()
            elif time.monotonic() - quiet_since >= SETTLE_QUIET_S:
                break
            before = now
        else:
            print(f"[{self.target.name}]   still busy after {SETTLE_TIMEOUT_S:g} s; going on")
        return last_busy

    def warm(self, s: SeriesData) -> float:
        def check(response: requests.Response) -> None:
            problem = metadata_problem(response, s)
            if problem:
                raise failed(response, problem)
            encoding = response.headers.get("Content-Encoding", "identity")
            self.result.extra[f"metadata.{s.label}.content_encoding"] = encoding

        times = self.latencies([self.series_url(s, "metadata")], ACCEPT_JSON, check, warmup=1)
        self.result.extra[f"metadata.{s.label}.warm_p95_ms"] = percentile(times, 95)
        return statistics.median(times)

    # QIDO ----------------------------------------------------------------------------------
    def qido(self, level: str) -> None:
        counts = {s.series_uid: len(s.instances) for s in self.series}
        study_uids = {s.study_uid for s in self.series}

        def check(response: requests.Response) -> None:
            items = json_list(response)
            if level == "studies":
                found = {uid for item in items for uid in tag_values(item, "0020000D")}
                if not study_uids <= found:
                    raise failed(response, f"missing studies {sorted(study_uids - found)}")
            elif level == "series":
                found = {uid for item in items for uid in tag_values(item, "0020000E")}
                if not found & counts.keys():
                    raise failed(response, "none of our series listed")
            else:
                series_uid = response.url.split("/series/")[1].split("/")[0]
                if len(items) != counts[series_uid]:
                    raise failed(response, f"{len(items)} instances, not {counts[series_uid]}")

        urls = {
            "studies": [self.url("studies")],
            "series": [self.url("studies", s.study_uid, "series") for s in self.series],
            "instances": [self.series_url(s, "instances") for s in self.series],
        }[level]

        def measure() -> Sequence[float]:
            times = self.latencies(urls, ACCEPT_JSON, check, warmup=QIDO_WARMUP)
            return statistics.median(times), percentile(times, 95)

        self.record_many([f"qido.{level}.median_ms", f"qido.{level}.p95_ms"], measure)

    def latencies(
        self,
        urls: Sequence[str],
        accept: str,
        check: Callable[[requests.Response], None],
        warmup: int,
    ) -> list[float]:
        """ms of warmup + repeat GETs cycling through urls; only the last `repeat` count."""
        times: list[float] = []
        for i in range(warmup + self.repeat):
            seconds, response = self.get(urls[i % len(urls)], accept)
            if response.status_code != 200:
                raise failed(response, "expected 200")
            check(response)
            if i >= warmup:
                times.append(seconds * 1000)
        return times

    # Frames --------------------------------------------------------------------------------
    def frames(self, s: SeriesData, variant: str, accept: str, workers: int) -> float:
        """frames/s: the median over passes of all frames of the series."""
        urls = [self.frame_url(s, i) for i in s.instances]
        local = threading.local()
        syntaxes = self.result.transfer_syntaxes.setdefault(variant, set())

        def get(url: str) -> Reply:
            if self.frame_client == "requests":
                if not hasattr(local, "session"):
                    local.session = self.target.session()
                return Reply.of(self.get(url, accept, local.session)[1])
            if not hasattr(local, "conn"):
                local.conn = LeanConnection(self.target)
                connections.append(local.conn)
            reply: Reply = local.conn.get(url, accept)
            return reply

        def fetch(url: str) -> bytes:
            response = get(url)
            if response.status != 200:
                raise failed(response, "expected 200")
            parts = multipart_parts(response)
            if len(parts) != 1 or len(parts[0][1]) != s.frame_bytes:
                sizes = [len(p) for _, p in parts]
                raise failed(response, f"expected 1 part of {s.frame_bytes} bytes, got {sizes}")
            part_type = parts[0][0].get("content-type") or response.content_type
            syntaxes.add(content_type_param(part_type, "transfer-syntax") or "(none given)")
            return parts[0][1]

        rates: list[float] = []
        wall = cpu = server_cpu = 0.0
        connections: list[LeanConnection] = []

        def close_all() -> None:
            for conn in connections:
                conn.close()

        with contextlib.ExitStack() as stack:
            stack.callback(close_all)  # runs after the pool below has joined its threads
            pool = stack.enter_context(ThreadPoolExecutor(max_workers=workers))
            list(pool.map(fetch, urls))  # warm-up pass, untimed: threads connect, caches fill
            server_start = group_cpu_seconds(self.target.process_groups)
            for _ in range(self.frame_passes):
                start, start_cpu = time.perf_counter(), time.process_time()
                payloads = list(pool.map(fetch, urls))
                seconds = time.perf_counter() - start
                wall, cpu = wall + seconds, cpu + time.process_time() - start_cpu
                rates.append(len(urls) / seconds)
            server_cpu = group_cpu_seconds(self.target.process_groups) - server_start
        digests = self.result.digests.setdefault(variant, {})
        for instance, payload in zip(s.instances, payloads, strict=True):
            digests[(s.series_uid, instance.sop_uid)] = hashlib.sha256(payload).hexdigest()
        count = len(urls) * self.frame_passes
        self.result.extra[f"frames.{s.label}.{variant}.x{workers}"] = {
            "passes_fps": rates,
            # CPU used by this client, in cores: near 1 means the client may be what limits.
            "client_cores": cpu / wall,
            "server_cpu_ms_per_frame": server_cpu / count * 1000,
        }
        self.frames_cpu.append((server_cpu, count))
        total_cpu = sum(c for c, _ in self.frames_cpu)
        self.result.figures["cpu.frame_ms"] = total_cpu / sum(n for _, n in self.frames_cpu) * 1000
        return statistics.median(rates)

    # Rendered ------------------------------------------------------------------------------
    def rendered(self) -> None:
        urls = [self.frame_url(s, i, "rendered") for s in self.series for i in s.instances]
        # Spread the requests evenly over the instances of all the series.
        step = max(1, len(urls) // max(1, self.repeat + 2))
        urls = urls[::step] or urls

        def check(response: requests.Response) -> None:
            kind = response.headers.get("Content-Type", "")
            if not kind.startswith(ACCEPT_JPEG) or not response.content.startswith(b"\xff\xd8"):
                raise failed(response, f"not a JPEG ({kind!r})")

        def measure() -> Sequence[float]:
            times = self.latencies(urls, ACCEPT_JPEG, check, warmup=2)
            return statistics.median(times), percentile(times, 95)

        self.record_many(["rendered.median_ms", "rendered.p95_ms"], measure)


def json_list(response: requests.Response) -> list[dict[str, Any]]:
    try:
        value = response.json()
    except ValueError as error:
        raise failed(response, "not JSON") from error
    if not isinstance(value, list):
        raise failed(response, "not a JSON array")
    return value


def metadata_problem(response: requests.Response, s: SeriesData) -> str | None:
    if response.status_code != 200:
        return "expected 200"
    try:
        items = response.json()
    except ValueError:
        return "not JSON"
    if not isinstance(items, list):
        return "not a JSON array"
    found = {uid for item in items for uid in tag_values(item, "00080018")}
    expected = {i.sop_uid for i in s.instances}
    if found != expected:
        return f"{len(found & expected)} of {len(expected)} instances ({len(items)} items)"
    return None


def check_stow(response: requests.Response, batch: Sequence[InstanceFile]) -> None:
    if response.status_code not in (200, 202):
        raise failed(response, "expected 200 (or 202 with nothing failed)")
    try:
        answer = response.json()
    except ValueError as error:
        raise failed(response, "STOW answer is not JSON") from error
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    if not isinstance(answer, dict):
        raise failed(response, "STOW answer is not a DICOM JSON object")
    if tag_values(answer, "00081198"):
        raise failed(response, "FailedSOPSequence is not empty")
    stored = {
        uid for item in tag_values(answer, "00081199") for uid in tag_values(item, "00081155")
    }
    missing = {i.sop_uid for i in batch} - stored
    if missing:
        raise failed(
            response, f"{len(missing)} of {len(batch)} instances not in ReferencedSOPSequence"
        )


# --- Servers ----------------------------------------------------------------------------------
def group_cpu_seconds(groups: Sequence[int]) -> float:
    """User + system CPU seconds of the live processes in these process groups."""
    ticks = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[2]) in groups:  # pgrp; utime and stime are fields 14 and 15 of stat
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def wait_http(
    url: str, children: Sequence[tuple[subprocess.Popen[bytes], Path]], ok: Callable[[int], bool]
) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last = "no answer"
    while time.monotonic() < deadline:
        for child, log in children:
            if child.poll() is not None:
                raise BenchError(f"{log.stem} exited with {child.returncode}:\n{tail(log)}")
        try:
            status = requests.get(url, timeout=5).status_code
            if ok(status):
                return
            last = f"status {status}"
        except requests.RequestException as error:
            last = type(error).__name__
        time.sleep(0.25)
    logs = "\n".join(tail(log) for _, log in children)
    raise BenchError(f"{url} not ready after {START_TIMEOUT_S:g} s ({last}):\n{logs}")


def orthanc_plugin(package: str, name: str) -> str:
    dpkg = shutil.which("dpkg-query")
    listed = ""
    if dpkg:
        listed = subprocess.run(
            [dpkg, "-L", package], capture_output=True, text=True, check=False
        ).stdout
    for line in listed.splitlines():
        if line.endswith(f"/{name}") and Path(line).exists():
            return line
    raise BenchError(f"{name} (Debian package {package}) not found")


def orthanc_missing() -> str | None:
    try:
        if not Path("/usr/sbin/Orthanc").exists():
            raise BenchError("/usr/sbin/Orthanc not found")
        orthanc_plugin("orthanc-dicomweb", "libOrthancDicomWeb.so")
        orthanc_plugin("orthanc-gdcm", "libOrthancGdcm.so")
    except BenchError as error:
        return (
            f"Orthanc is not installed ({error}): run bench/install-orthanc.sh "
            "(or make bench-dicomweb), or pass --only ours"
        )
    return None


@contextlib.contextmanager
def orthanc_server(workdir: Path) -> Iterator[Target]:
    workdir.mkdir()
    port = free_port()
    config = {
        "Name": "noduleflow-bench",
        "HttpPort": port,
        "DicomServerEnabled": False,
        "DicomPort": free_port(),
        "RemoteAccessAllowed": False,
        "AuthenticationEnabled": False,
        "HttpCompressionEnabled": False,
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "index"),
        "Plugins": [
            orthanc_plugin("orthanc-dicomweb", "libOrthancDicomWeb.so"),
            orthanc_plugin("orthanc-gdcm", "libOrthancGdcm.so"),
        ],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/"},
    }
    (workdir / "orthanc.json").write_text(json.dumps(config, indent=2))
    log = workdir / "orthanc.log"
    with process(["/usr/sbin/Orthanc", str(workdir / "orthanc.json")], log) as child:
        wait_http(f"http://127.0.0.1:{port}/system", [(child, log)], lambda s: s == 200)
        version = requests.get(f"http://127.0.0.1:{port}/system", timeout=5).json()["Version"]
        plugins = requests.get(f"http://127.0.0.1:{port}/plugins", timeout=5).json()
        print(f"Orthanc {version} on port {port}, plugins {plugins}", flush=True)
        yield Target("orthanc", f"http://127.0.0.1:{port}/dicom-web", {}, ((child, log),))


def psql(sql: str) -> None:
    exe = shutil.which("psql")
    if exe is None:
        raise BenchError("psql not found")
    argv = [
        exe,
        "-h",
        PG_HOST,
        "-p",
        str(PG_PORT),
        "-U",
        PG_USER,
        "-d",
        "postgres",
        "-v",
        "ON_ERROR_STOP=1",
        "-qc",
        sql,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode:
        raise BenchError(f"psql {sql!r}: {done.stderr.strip()}")


def flush_redis() -> None:
    import redis  # the broker's client library, installed with Celery's Redis transport

    redis.Redis.from_url(REDIS_URL).flushdb()


@contextlib.contextmanager
def our_server(workdir: Path) -> Iterator[Target]:
    workdir.mkdir()
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'platform'}:{REPO}",
        "PLATFORM_MODE": "test",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{BENCH_DB}",
        "CELERY_BROKER_URL": REDIS_URL,
        "VAR_DIR": str(workdir / "var"),
        "MEDIA_ROOT": str(workdir / "media"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    python = str(VENV_BIN / "python")
    psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {BENCH_DB}")
    flush_redis()
    try:
        run_checked([python, "manage.py", "migrate", "--noinput", "-v0"], env, workdir)
        setup = (
            "import json\n"
            "from accounts.services import create_user\n"
            "from projects.services import create_project\n"
            "from rest_framework.authtoken.models import Token\n"
            f"user = create_user(username='bench', password='{secrets.token_urlsafe(24)}', "
            "is_site_admin=True)\n"
            "project = create_project(creator=user, name='bench', deidentify=False)\n"
            "token, _ = Token.objects.get_or_create(user=user)\n"
            "print('BENCH ' + json.dumps({'project': project.pk, 'token': token.key}))\n"
        )
        out = run_checked([python, "manage.py", "shell", "-c", setup], env, workdir)
        line = next(x for x in out.splitlines() if x.startswith("BENCH "))
        created = json.loads(line.removeprefix("BENCH "))
        port = free_port()
        gunicorn = [
            str(VENV_BIN / "gunicorn"),
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            os.environ.get("BENCH_WEB_WORKERS", "4"),
            "--threads",
            os.environ.get("BENCH_WEB_THREADS", "4"),
        ]
        celery = [
            str(VENV_BIN / "celery"),
            "-A",
            "config.celery_app",
            "worker",
            "-Q",
            "default,gpu",
            "--pool",
            "solo",
            "-n",
            f"bench-{os.getpid()}@%h",
            "--loglevel",
            "INFO",
        ]
        web_log, worker_log = workdir / "gunicorn.log", workdir / "celery.log"
        with (
            process(gunicorn, web_log, env) as web,
            process(celery, worker_log, env) as worker,
        ):
            children = [(web, web_log), (worker, worker_log)]
            wait_http(f"http://127.0.0.1:{port}/healthz", children, lambda s: s == 200)
            print(f"ours on port {port}, project {created['project']}", flush=True)
            base = f"http://127.0.0.1:{port}/dicomweb/projects/{created['project']}"
            headers = {"Authorization": f"Token {created['token']}"}
            yield Target("ours", base, headers, tuple(children))
            errors = [x for x in tail(worker_log, 400).splitlines() if "ERROR" in x]
            if errors:
                print("celery worker logged errors:\n  " + "\n  ".join(errors[-10:]))
    finally:
        with contextlib.suppress(BenchError):
            psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        with contextlib.suppress(Exception):
            flush_redis()


def run_checked(argv: Sequence[str], env: dict[str, str], workdir: Path) -> str:
    done = subprocess.run(
        list(argv), env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise BenchError(f"{' '.join(argv[:3])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


# --- Report -----------------------------------------------------------------------------------
def ratio(row: Row, ours: float | None, theirs: float | None) -> float | None:
    if ours is None or theirs is None or ours <= 0 or theirs <= 0:
        return None
    return ours / theirs if row.better == "higher" else theirs / ours


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def report(
    rows: Sequence[Row], results: dict[str, ServerResult], series: Sequence[SeriesData]
) -> tuple[str, list[dict[str, Any]]]:
    ours, theirs = results.get("ours"), results.get("orthanc")

    def cell(result: ServerResult | None, key: str) -> str:
        if result is None:
            return "-"
        if key in result.errors or (key not in result.figures and "server" in result.errors):
            return "FAIL"
        return fmt(result.figures.get(key))

    header = ("row", "unit", "ours", "Orthanc", "ratio", "target (ours)")
    lines: list[tuple[str, ...]] = [header]
    table: list[dict[str, Any]] = []
    for row in rows:
        a = ours.figures.get(row.key) if ours else None
        b = theirs.figures.get(row.key) if theirs else None
        r = ratio(row, a, b)
        verdict = ""
        if row.goal:
            met = None if a is None else row.goal.met(a, r)
            verdict = f"{row.goal.text}: " + {True: "met", False: "MISSED", None: "n/a"}[met]
        lines.append(
            (
                row.label,
                row.unit,
                cell(ours, row.key),
                cell(theirs, row.key),
                "-" if r is None else f"{r:.2f}",
                verdict,
            )
        )
        table.append(
            {
                "key": row.key,
                "label": row.label,
                "unit": row.unit,
                "better": row.better,
                "ours": a,
                "orthanc": b,
                "ratio": r,
                "target": verdict,
            }
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = [
        "DICOMweb: ours vs Orthanc. ratio > 1 means ours is faster/better "
        "(ours/Orthanc for rates, Orthanc/ours for latencies).",
        "Series: "
        + ", ".join(
            f"{s.label} ({len(s.instances)} instances, {s.total_bytes / 1e6:.1f} MB)"
            for s in series
        ),
        "",
    ]
    for n, line in enumerate(lines):
        cells = [line[0].ljust(widths[0]), line[1].ljust(widths[1])]
        cells += [line[i].rjust(widths[i]) for i in (2, 3, 4)] + [line[5]]
        text.append("  ".join(cells).rstrip())
        if n == 0:
            text.append("-" * (sum(widths) + 2 * (len(widths) - 1)))
    return "\n".join(text), table


def verify(results: dict[str, ServerResult], series: Sequence[SeriesData]) -> list[str]:
    """Frames against the files' Pixel Data, and ours against Orthanc, byte for byte."""
    expected = {(s.series_uid, i.sop_uid): i.pixel_sha256 for s in series for i in s.instances}
    lines: list[str] = []
    for name, result in results.items():
        for variant, digests in result.digests.items():
            same = sum(expected[k] == v for k, v in digests.items())
            syntaxes = ", ".join(sorted(result.transfer_syntaxes.get(variant, set())))
            lines.append(
                f"{name} {variant} frames == file Pixel Data: {same}/{len(expected)} "
                f"(transfer syntax answered: {syntaxes or '-'})"
            )
    if "ours" in results and "orthanc" in results:
        ours = results["ours"].digests.get("explicit-le", {})
        theirs = results["orthanc"].digests.get("explicit-le", {})
        same = sum(1 for k, v in ours.items() if theirs.get(k) == v)
        verdict = "OK" if same == len(expected) else "MISMATCH"
        lines.append(
            f"ours vs Orthanc explicit-le frames byte-identical: {same}/{len(expected)} {verdict}"
        )
    return lines


# --- Main -------------------------------------------------------------------------------------
@contextlib.contextmanager
def exclusive_run() -> Iterator[None]:
    """Hold the machine-wide lock, waiting (bounded) while another run holds it."""
    with LOCK_PATH.open("a") as lock:
        deadline = time.monotonic() + LOCK_WAIT_S
        said = False
        while True:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise LockBusy(f"another run still holds {LOCK_PATH}") from None
                if not said:
                    print(f"waiting for another bench/dicomweb.py run to finish ({LOCK_PATH})")
                    said = True
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def code_version() -> dict[str, Any]:
    """The commit measured, and the files under platform/ that differ from it."""
    git = shutil.which("git")
    if git is None:
        return {}

    def out(*argv: str) -> str:
        done = subprocess.run([git, *argv], cwd=REPO, capture_output=True, text=True, check=False)
        return done.stdout.strip()

    changed = out("status", "--porcelain", "--", "platform").splitlines()
    return {"commit": out("rev-parse", "HEAD"), "uncommitted_in_platform": changed}


def measure(
    targets: Sequence[Target], series: Sequence[SeriesData], args: argparse.Namespace
) -> dict[str, ServerResult]:
    """Every row on every server, interleaved so that a change in the machine's background load
    falls on both servers alike: each server ingests and reads its cold metadata, then each
    settles, then the remaining rows run one at a time, Orthanc's then ours."""
    benches = [Bench(target, series, args) for target in targets]
    ready = [bench for bench in benches if bench.ingest()]
    for bench in ready:
        bench.timed("settle", bench.settle)
    for steps in zip(*(bench.steps() for bench in ready), strict=True):
        for bench, (name, step) in zip(ready, steps, strict=True):
            if "server" not in bench.result.errors:
                bench.timed(name, step)
            if problem := bench.target.died():
                bench.result.errors.setdefault("server", problem)
    return {bench.target.name: bench.result for bench in benches}


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=("ours", "orthanc"), help="measure one server only")
    parser.add_argument("--series", choices=("0001", "0003", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=50, help="requests per latency row")
    parser.add_argument(
        "--frame-passes",
        type=int,
        default=3,
        help="passes over all frames per frames row (median reported)",
    )
    parser.add_argument(
        "--stow-batch",
        type=int,
        default=0,
        help="instances per STOW request (0: one request per series)",
    )
    parser.add_argument(
        "--frame-client",
        choices=("http.client", "requests"),
        default="http.client",
        help="HTTP client of the frames rows (requests costs ~4x the client CPU per frame)",
    )
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the LIDC folder")
    parser.add_argument("--keep-temp", action="store_true", help="keep the temp dir and logs")
    args = parser.parse_args(argv)
    if args.repeat < 1 or args.frame_passes < 1 or args.stow_batch < 0:
        parser.error("--repeat and --frame-passes must be >= 1, --stow-batch >= 0")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    servers = [args.only] if args.only else ["ours", "orthanc"]
    if "orthanc" in servers and (problem := orthanc_missing()):
        print(problem, file=sys.stderr)
        return 2
    # Ctrl-C and SIGTERM both unwind through the finally blocks that stop the servers.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        with exclusive_run():
            return run_bench(args, servers)
    except LockBusy as error:
        print(error, file=sys.stderr)
        return 2


def run_bench(args: argparse.Namespace, servers: Sequence[str]) -> int:
    """Load the data, measure, print the table and write the JSON; the exit status."""
    labels = ["0001", "0003"] if args.series == "both" else [args.series]
    series = [load_series(args.data, label) for label in labels]
    rows = build_rows(series)
    results: dict[str, ServerResult] = {}
    workdir = Path(tempfile.mkdtemp(prefix="bench-dicomweb-"))
    try:
        with contextlib.ExitStack() as stack:
            targets: list[Target] = []
            for name in ("orthanc", "ours"):  # both run at once, idle while the other is measured
                if name not in servers:
                    continue
                context = orthanc_server if name == "orthanc" else our_server
                try:
                    targets.append(stack.enter_context(context(workdir / name)))
                except BenchError as error:  # would not start: the other server is still measured
                    results[name] = ServerResult(name, errors={"server": str(error)})
                    print(f"[{name}] server failed: {error}", file=sys.stderr, flush=True)
            results.update(measure(targets, series, args))
    finally:
        if args.keep_temp:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    text, table = report(rows, results, series)
    checks = verify(results, series)
    print()
    print(text)
    print()
    for line in checks:
        print("check: " + line)
    cores = os.cpu_count() or 1
    loads = {f"before {n}": r.extra.get("loadavg_1min_at_start", 0.0) for n, r in results.items()}
    loads["at the end"] = os.getloadavg()[0]
    if any(load > 0.75 * cores for load in loads.values()):
        said = ", ".join(f"{load:.1f} {when}" for when, load in loads.items())
        print(
            f"note: the machine was busy (1-min load average {said}, {cores} cores): "
            "other work shared the CPUs, figures are noisy"
        )
    for name, r in results.items():
        if "settle" in r.extra:
            busy = r.extra["settle"]["busy_seconds_after_ingest"]
            print(f"note: {name} kept working {busy:.1f} s after ingest (post-processing)")
    failures = [(name, key, msg) for name, r in results.items() for key, msg in r.errors.items()]
    if failures:
        print("\nfailures (request -> status: why; body):")
        grouped: dict[tuple[str, str], list[str]] = {}
        for name, key, message in failures:
            grouped.setdefault((name, message), []).append(key)
        for (name, message), keys in grouped.items():
            print(f"  [{name}] {', '.join(keys)}:\n    {message}")

    RESULTS_DIR.mkdir(exist_ok=True)
    now = dt.datetime.now().astimezone()
    out = RESULTS_DIR / f"dicomweb-{now:%Y%m%d-%H%M%S}.json"
    payload = {
        "date": now.isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "loadavg_at_end": os.getloadavg(),
        },
        "args": {k: str(v) for k, v in vars(args).items()},
        "code": code_version(),
        "series": [
            {
                "label": s.label,
                "series_uid": s.series_uid,
                "instances": len(s.instances),
                "bytes": s.total_bytes,
            }
            for s in series
        ],
        "rows": table,
        "checks": checks,
        "servers": {
            name: {
                "figures": r.figures,
                "errors": r.errors,
                "extra": r.extra,
                "transfer_syntaxes": {k: sorted(v) for k, v in r.transfer_syntaxes.items()},
            }
            for name, r in results.items()
        },
    }
    out.write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {out.relative_to(REPO)}")
    return 1 if failures or any("MISMATCH" in c for c in checks) else 0


if __name__ == "__main__":
    sys.exit(main())
