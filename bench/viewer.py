"""Viewer benchmark: our task viewer and OHIF in headless Chromium; same server, data and run.

How to run (from the repository root; PostgreSQL on 127.0.0.1, a built frontend)::

    .venv/bin/python bench/viewer.py [--series 0001|0003|both] [--repeat N] [--only ours|ohif]
                                     [--ohif-dist DIR] [--screenshot PATH | --no-screenshot]

It prints figures and never asserts. Everything it makes is deleted at the end (also on error,
Ctrl-C or SIGTERM):

- Our server: a fresh PostgreSQL database ``noduleflow_bench_viewer`` (dropped at the end),
  ``PLATFORM_MODE=test``, ``DJANGO_DEBUG=false``, media and ``collectstatic`` output in a temp
  dir (WhiteNoise serves the built frontend/dist from there, as in production), an in-memory
  Celery broker (nothing is queued), gunicorn as in the Procfile (2 workers x 4 threads).
  LIDC-IDRI-0001 (133 slices) and -0003 (140) are ingested (de-identified, the project default),
  post-processed and pre-annotated by classical-v0 in a ``manage.py shell`` before gunicorn
  starts; an annotator has a task on each and a session whose cookie the browser gets (no login
  page in the timings).
- OHIF: the published ``@ohif/app`` package (``npm pack``, cached outside the repository in
  ``~/.cache/noduleflow-bench/``; its built ``dist/`` as released, nothing rebuilt), served by
  ``bench/ohif/serve.py``, which also forwards our server's paths, so that OHIF reads our
  DICOMweb (``/dicomweb/projects/<id>``) from its own origin with our session cookie. Its
  ``app-config.js`` is OHIF's default with the data source pointed at us; it opens
  ``/viewer?StudyInstanceUIDs=<study>`` (OHIF's basic viewer: one stack viewport).
- Chromium: ``/usr/bin/chromium`` headless with the project's flags (``--disable-gpu``: WebGL is
  SwiftShader, on the CPU), 1400x900, service workers blocked, other hosts unresolvable.

Our viewer is measured twice: straight from gunicorn (the figures held against the targets) and
through the same serve.py hop as OHIF (the figures the ratio uses). Each figure is the median of
``--repeat`` page loads. Times are from the navigation's start (``performance.timeOrigin``):

- First image: when a canvas of at least 200x200 px first shows an image (a 48x48 sample of its
  middle half has a grey-level standard deviation over 20), checked in every animation frame and
  on each of Cornerstone's render events (CORNERSTONE_IMAGE_RENDERED, right after a draw).
  Cold: a new browser context (empty cache) per load. Warm: one context, two priming loads (so
  the HTTP cache and V8's code cache are filled), then the measured loads.
- All frames: when the last of the series' frame requests ended (Resource Timing), and, for
  our viewer, when the last frame was decoded and cached (``nf:images-loaded``, Cornerstone's
  IMAGE_LOADED for every frame; OHIF: the same event counted on its ``window.cornerstone``).
  OHIF's stack viewport prefetches only around the shown slice: if it never requests every
  frame within 20 s the row says how many it had.
- Save round trip (ours only; OHIF has no labelmap save to our API): a click on Save until the
  header says "Saved as revision N": snapshot, encode (sha256 + gzip of every voxel), POST, the
  server's checks and write, the 201, and the UI update. The POST's share is printed beside it.
- Scroll: one wheel event per animation frame for 3 s over the image once all is loaded (back
  and forth through 60 slices); frames per second of the page (requestAnimationFrame) and of
  Cornerstone's renders (CORNERSTONE_IMAGE_RENDERED events).

A breakdown of our viewer's cold load (Resource Timing and the viewer's own performance marks)
is printed after the table, to say where the time goes. Figures also go to
``bench/results/viewer-<date>.json``; a screenshot of our viewer on the pre-annotated nodule of
LIDC-IDRI-0001 goes to ``docs/images/viewer.png`` unless ``--no-screenshot``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import secrets
import shutil
import signal
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO)]  # for bench.processes, below
from bench.processes import free_port, process, tail

DEFAULT_DATA = REPO.parent / "shared" / "data" / "lidc"
RESULTS_DIR = REPO / "bench" / "results"
VENV_BIN = REPO / ".venv" / "bin"
SERVE_PY = REPO / "bench" / "ohif" / "serve.py"
SERIES_DIRS = {"0001": "LIDC-IDRI-0001", "0003": "LIDC-IDRI-0003"}
OHIF_VERSION = "3.13.2"
CACHE_DIR = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "noduleflow-bench"

PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
BENCH_DB = "noduleflow_bench_viewer"
START_TIMEOUT_S = 90.0
LOAD_TIMEOUT_MS = 60_000
OHIF_ALL_FRAMES_WAIT_MS = 20_000
SCROLL_MS = 3000
SAVES = 5

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Nothing outside loopback: a page asking for a CDN fails at once instead of waiting on DNS.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]
VIEWPORT = {"width": 1400, "height": 900}

TARGETS = {  # ours, straight from gunicorn on loopback
    "first_image_cold_ms": 800.0,
    "first_image_warm_ms": 300.0,
    "frames_decoded_ms": 1500.0,
    "save_ms": 100.0,
}

# Installed in every page before its own scripts: the first-image probe and a big enough
# Resource Timing buffer (the default 250 entries would drop frames of a 140-slice series).
PROBE = """
(() => {
  performance.setResourceTimingBufferSize(20000);
  const bench = (window.__bench = { firstImage: null, imagesLoaded: 0, renders: 0 });
  const probe = document.createElement("canvas");
  probe.width = probe.height = 48;
  const ctx = probe.getContext("2d", { willReadFrequently: true });
  const shows = (canvas) => {
    const box = canvas.getBoundingClientRect();
    const small = Math.min(canvas.width, canvas.height, box.width, box.height) < 200;
    if (small) return false;
    try {
      // The middle half only: an empty slice drawn as a flat square on black is no image.
      const w = canvas.width, h = canvas.height;
      ctx.clearRect(0, 0, 48, 48);
      ctx.drawImage(canvas, w / 4, h / 4, w / 2, h / 2, 0, 0, 48, 48);
    } catch (e) {
      return false;
    }
    const d = ctx.getImageData(0, 0, 48, 48).data;
    let s = 0, s2 = 0;
    for (let i = 0; i < d.length; i += 4) {
      const v = (d[i] + d[i + 1] + d[i + 2]) / 3;
      s += v;
      s2 += v * v;
    }
    const n = d.length / 4, mean = s / n;
    return Math.sqrt(Math.max(0, s2 / n - mean * mean)) > 20;
  };
  const poll = () => {
    if (bench.firstImage !== null) return;
    for (const canvas of document.querySelectorAll("canvas")) {
      if (shows(canvas)) {
        bench.firstImage = performance.now();
        return;
      }
    }
    requestAnimationFrame(poll);
  };
  requestAnimationFrame(poll);
  // Cornerstone's render event comes right after it drew, before the frame is painted: checked
  // then too, so work a viewer does after drawing does not count against it.
  document.addEventListener("CORNERSTONE_IMAGE_RENDERED", (event) => {
    bench.renders++;
    if (bench.firstImage !== null || !(event.target instanceof Element)) return;
    for (const canvas of event.target.querySelectorAll("canvas")) {
      if (shows(canvas)) {
        bench.firstImage = performance.now();
        return;
      }
    }
  }, true);
  // OHIF exposes its Cornerstone as window.cornerstone: count its decoded frames.
  const hook = setInterval(() => {
    const cs = window.cornerstone;
    if (!cs || !cs.eventTarget) return;
    clearInterval(hook);
    const loaded = (e) => {
      bench.imagesLoaded++;
      bench.lastImageLoaded = performance.now();
    };
    cs.eventTarget.addEventListener(cs.Enums.Events.IMAGE_LOADED, loaded);
  }, 5);
})();
"""

FRAME_TIMES = """
() => {
  const frames = new Map();
  for (const e of performance.getEntriesByType("resource")) {
    if (!e.name.includes("/frames/")) continue;
    frames.set(e.name, Math.max(frames.get(e.name) ?? 0, e.responseEnd));
  }
  // Our viewer fetches most frames in a worker, whose requests are not in the page's Resource
  // Timing: it marks when each body was in.
  for (const m of performance.getEntriesByName("nf:frame-received")) {
    const url = m.detail && m.detail.url;
    if (url) frames.set(url, Math.max(frames.get(url) ?? 0, m.startTime));
  }
  const ends = [...frames.values()];
  return { count: ends.length, last: ends.length ? Math.max(...ends) : null };
}
"""

SCROLL = """
async (ms) => {
  const canvas = [...document.querySelectorAll("canvas")]
    .filter((c) => c.getBoundingClientRect().width >= 200)
    .sort((a, b) => b.getBoundingClientRect().width - a.getBoundingClientRect().width)[0];
  const box = canvas.getBoundingClientRect();
  const x = box.left + box.width / 2, y = box.top + box.height / 2;
  const target = document.elementFromPoint(x, y) || canvas;
  const renders0 = window.__bench.renders;
  let frames = 0, direction = 1;
  const t0 = performance.now();
  return await new Promise((resolve) => {
    const tick = (now) => {
      frames++;
      const init = { deltaY: 100 * direction, deltaMode: 0, clientX: x, clientY: y };
      target.dispatchEvent(new WheelEvent("wheel", { ...init, bubbles: true, cancelable: true }));
      if (frames % 60 === 0) direction = -direction;
      if (now - t0 < ms) requestAnimationFrame(tick);
      else {
        const seconds = (now - t0) / 1000;
        const renders = window.__bench.renders - renders0;
        resolve({ fps: frames / seconds, renders_per_s: renders / seconds });
      }
    };
    requestAnimationFrame(tick);
  });
}
"""

SAVE = """
async () => {
  const state = document.querySelector(".nf-save-state");
  const buttons = [...document.querySelectorAll(".nf-header button")];
  const button = buttons.find((b) => b.textContent === "Save");
  const before = performance.getEntriesByType("resource").length;
  const saved = new Promise((resolve) => {
    const observer = new MutationObserver(() => {
      if (state.dataset.state === "clean" && state.textContent.startsWith("Saved as")) {
        observer.disconnect();
        resolve(performance.now());
      }
      if (state.dataset.state === "error" || state.dataset.state === "conflict") {
        observer.disconnect();
        resolve(null);
      }
    });
    const all = { attributes: true, childList: true, characterData: true, subtree: true };
    observer.observe(state, all);
  });
  const t0 = performance.now();
  button.click();
  const t1 = await saved;
  const posts = performance.getEntriesByType("resource").slice(before)
    .filter((e) => e.name.endsWith("/revisions/"));
  const post = posts.pop();
  return {
    total: t1 === null ? null : t1 - t0,
    post: post ? post.responseEnd - post.startTime : null,
    text: state.textContent,
  };
}
"""

BREAKDOWN = """
() => {
  const pick = (test) => performance.getEntriesByType("resource").filter((e) => test(e.name));
  const span = (list) => list.length
    ? [Math.min(...list.map((e) => e.startTime)), Math.max(...list.map((e) => e.responseEnd))]
    : null;
  const nav = performance.getEntriesByType("navigation")[0];
  const marks = Object.fromEntries(performance.getEntriesByType("mark")
    .filter((m) => m.name.startsWith("nf:") && m.name !== "nf:frame-received")
    .map((m) => [m.name, m.startTime]));
  const requested = pick((n) => n.includes("/frames/"));
  const frames = [...requested];
  for (const m of performance.getEntriesByName("nf:frame-received")) {
    frames.push({ startTime: m.startTime, responseEnd: m.startTime });  // worker: end only
  }
  const firstFrames = [...frames].sort((a, b) => a.responseEnd - b.responseEnd);
  return {
    html: nav ? [nav.requestStart, nav.responseEnd] : null,
    dom_content_loaded: nav ? nav.domContentLoadedEventEnd : null,
    main_js: span(pick((n) => /\\/main-[^/]*\\.js$/.test(n))),
    app_js: span(pick((n) => /\\/app-[^/]*\\.js$/.test(n))),
    cornerstone_js: span(pick((n) => /\\/cornerstone-[^/]*\\.js$/.test(n))),
    workers: span(pick((n) => /Worker[^/]*\\.js$/.test(n))),
    task_api: span(pick((n) => /\\/api\\/annotations\\/tasks\\/\\d+\\/$/.test(n))),
    metadata: span(pick((n) => n.endsWith("/metadata"))),
    labelmap: span(pick((n) => n.endsWith("/labelmap"))),
    frames: span(frames),
    first_frame_end: firstFrames.length ? firstFrames[0].responseEnd : null,
    frame_ms_median: requested.length  // the page's own requests
      ? requested.map((e) => e.responseEnd - e.startTime)
        .sort((a, b) => a - b)[requested.length >> 1]
      : null,
    marks,
    first_image: window.__bench.firstImage,
  };
}
"""


class BenchError(Exception):
    """A server would not start or a page would not load; the text says which."""


@dataclass(frozen=True)
class Case:
    label: str
    slices: int
    study_uid: str
    series_uid: str
    task_id: int


@dataclass(frozen=True)
class Site:
    """Our server straight, and serve.py in front of it (with OHIF)."""

    direct: str
    proxied: str | None
    project_id: int
    session: str
    cases: tuple[Case, ...]


@dataclass
class Figures:
    """Medians per figure; the raw samples and notes beside them."""

    values: dict[str, float | None] = field(default_factory=dict)
    samples: dict[str, list[float]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def add(self, key: str, value: float | None) -> None:
        if value is not None:
            self.samples.setdefault(key, []).append(float(value))

    def settle(self) -> None:
        for key, values in self.samples.items():
            self.values[key] = statistics.median(values) if values else None


# --- processes ----------------------------------------------------------------------------------
def wait_http(url: str, child: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise BenchError(f"{log.stem} exited with {child.returncode}:\n{tail(log)}")
        with contextlib.suppress(requests.RequestException):
            if requests.get(url, timeout=5).status_code < 500:
                return
        time.sleep(0.25)
    raise BenchError(f"{url} not ready after {START_TIMEOUT_S:g} s:\n{tail(log)}")


def run_checked(argv: Sequence[str], env: dict[str, str]) -> str:
    done = subprocess.run(
        list(argv), env=env, cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise BenchError(f"{' '.join(argv[:4])} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


def psql(sql: str) -> None:
    exe = shutil.which("psql")
    if exe is None:
        raise BenchError("psql not found")
    argv = [exe, "-h", PG_HOST, "-p", str(PG_PORT), "-U", PG_USER, "-d", "postgres"]
    done = subprocess.run(
        [*argv, "-v", "ON_ERROR_STOP=1", "-qc", sql], capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise BenchError(f"psql {sql!r}: {done.stderr.strip()}")


# The data, made in the server's own environment before it starts: both series ingested and
# processed, an annotator's task on each with classical-v0's revision, and a session for them.
SETUP = """
import json
from importlib import import_module
from pathlib import Path

from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY

from accounts.models import Role
from accounts.services import create_user
from annotations.services import create_task
from imaging.deid import UidMapper
from imaging.models import Series
from imaging.processing import process_series
from imaging.services import ingest_instance
from inference.models import InferenceRun
from inference.registry import ensure_default_model
from inference.services import run_preannotation
from projects.models import Project
from projects.services import add_member, create_project

lead = create_user(username="bench-lead", password=PASSWORD, is_site_admin=True)
annotator = create_user(username="bench-annotator", password=PASSWORD, display_name="Dr Bench")
project = create_project(creator=lead, name="Viewer bench")
Project.objects.filter(pk=project.pk).update(preannotate_on_ingest=False)
project.refresh_from_db()
add_member(project=project, user=annotator, role=Role.ANNOTATOR)
cases = []
for label, folder in DIRS:
    files = sorted(Path(folder).rglob("*.dcm"))
    mapper = UidMapper(project)
    reports = [ingest_instance(project=project, name=f.name, data=f.read_bytes(), mapper=mapper)
               for f in files]
    (series_id,) = {r.series_id for r in reports if r.series_id}
    process_series(series_id=series_id)
    series = Series.objects.select_related("study").get(pk=series_id)
    task = create_task(series=series, assignee=annotator)
    run = InferenceRun.objects.create(series=series, model_version=ensure_default_model(project))
    run = run_preannotation(run_id=run.pk)
    cases.append({"label": label, "slices": len(files), "task_id": task.pk,
                  "study_uid": series.study.study_instance_uid,
                  "series_uid": series.series_instance_uid,
                  "revision": run.revision_id, "transfer_syntax":
                  series.instances.values_list("transfer_syntax_uid", flat=True).first()})
session = import_module(settings.SESSION_ENGINE).SessionStore()
session[SESSION_KEY] = str(annotator.pk)
session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
session[HASH_SESSION_KEY] = annotator.get_session_auth_hash()
session.create()
print("BENCH " + json.dumps({"project": project.pk, "session": session.session_key,
                             "cases": cases}))
"""


@contextlib.contextmanager
def our_server(workdir: Path, data: Path, labels: Sequence[str]) -> Iterator[tuple[str, dict]]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{REPO / 'platform'}:{REPO}",
        "PLATFORM_MODE": "test",
        "DJANGO_DEBUG": "false",
        "DATABASE_URL": f"postgres://{PG_USER}@{PG_HOST}:{PG_PORT}/{BENCH_DB}",
        "CELERY_BROKER_URL": "memory://",
        "VAR_DIR": str(workdir / "var"),
        "MEDIA_ROOT": str(workdir / "media"),
        "STATIC_ROOT": str(workdir / "static"),
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    python = str(VENV_BIN / "python")
    psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {BENCH_DB}")
    try:
        started = time.perf_counter()
        run_checked([python, "manage.py", "migrate", "--noinput", "-v0"], env)
        run_checked([python, "manage.py", "collectstatic", "--noinput", "-v0"], env)
        dirs = [(label, str(data / SERIES_DIRS[label])) for label in labels]
        script = f"PASSWORD = {secrets.token_urlsafe(18)!r}\nDIRS = {dirs!r}\n" + SETUP
        out = run_checked([python, "manage.py", "shell", "-c", script], env)
        line = next(x for x in out.splitlines() if x.startswith("BENCH "))
        made = json.loads(line.removeprefix("BENCH "))
        print(f"data ready in {time.perf_counter() - started:.0f} s: {made['cases']}", flush=True)
        port = free_port()
        gunicorn = [
            str(VENV_BIN / "gunicorn"), "config.wsgi:application",
            "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
        ]  # fmt: skip
        log = workdir / "gunicorn.log"
        with process(gunicorn, log, env) as web:
            wait_http(f"http://127.0.0.1:{port}/accounts/login/", web, log)
            yield f"http://127.0.0.1:{port}", made
    finally:
        with contextlib.suppress(BenchError):
            psql(f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")


def ohif_dist(version: str, given: Path | None) -> Path:
    """OHIF's released build: the dist/ of the npm package, fetched once into the cache."""
    if given is not None:
        if not (given / "index.html").is_file():
            raise BenchError(f"{given} does not look like OHIF's dist/ (no index.html)")
        return given
    folder = CACHE_DIR / f"ohif-app-{version}"
    dist = folder / "package" / "dist"
    if (dist / "index.html").is_file():
        return dist
    npm = shutil.which("npm")
    if npm is None:
        raise BenchError("npm not found: pass --ohif-dist or --only ours")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"fetching @ohif/app@{version} (npm pack) into {folder}", flush=True)
    subprocess.run(
        [npm, "pack", f"@ohif/app@{version}", "--pack-destination", str(folder), "--silent"],
        check=True,
        cwd=folder,
        capture_output=True,
    )
    (tarball,) = folder.glob("ohif-app-*.tgz")
    with tarfile.open(tarball) as archive:
        archive.extractall(folder, filter="data")
    tarball.unlink()
    return dist


def ohif_config(origin: str, project_id: int) -> str:
    """OHIF's default app-config.js with its one data source pointed at our DICOMweb."""
    root = f"{origin}/dicomweb/projects/{project_id}"
    source = {
        "namespace": "@ohif/extension-default.dataSourcesModule.dicomweb",
        "sourceName": "noduleflow",
        "configuration": {
            "friendlyName": "NoduleFlow",
            "name": "noduleflow",
            "wadoUriRoot": root,
            "qidoRoot": root,
            "wadoRoot": root,
            "qidoSupportsIncludeField": False,
            "imageRendering": "wadors",
            "thumbnailRendering": "wadors",
            "enableStudyLazyLoad": True,
            "supportsFuzzyMatching": False,
            "supportsWildcard": False,
            "staticWado": False,
            "singlepart": "bulkdata,video",
            "bulkDataURI": {"enabled": True},
            "omitQuotationForMultipartRequest": True,
        },
    }
    config = {
        "routerBasename": "/",
        "extensions": [],
        "modes": [],
        "customizationService": {},
        "showStudyList": True,
        "maxNumberOfWebWorkers": 3,
        "showWarningMessageForCrossOrigin": False,
        "showCPUFallbackMessage": False,
        "showLoadingIndicator": True,
        "strictZSpacingForVolumeViewport": True,
        "maxNumRequests": {"interaction": 100, "thumbnail": 5, "prefetch": 25},
        "defaultDataSourceName": "noduleflow",
        "dataSources": [source],
    }
    return f"window.config = {json.dumps(config, indent=2)};\n"


@contextlib.contextmanager
def front_server(workdir: Path, upstream: str, dist: Path, project_id: int) -> Iterator[str]:
    port = free_port()
    origin = f"http://127.0.0.1:{port}"
    config = workdir / "app-config.js"
    config.write_text(ohif_config(origin, project_id))
    argv = [
        str(VENV_BIN / "python"), str(SERVE_PY), "--dist", str(dist), "--upstream", upstream,
        "--port", str(port), "--app-config", str(config),
    ]  # fmt: skip
    log = workdir / "serve.log"
    with process(argv, log) as child:
        wait_http(f"{origin}/accounts/login/", child, log)
        yield origin


# --- measuring ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Viewer:
    """How to open a case in a viewer and when it counts as loaded."""

    name: str
    origin: str
    ours: bool

    def url(self, site: Site, case: Case) -> str:
        if self.ours:
            return f"{self.origin}/tasks/{case.task_id}/"
        return f"{self.origin}/viewer?StudyInstanceUIDs={case.study_uid}"


class Bench:
    def __init__(self, browser: Browser, site: Site, repeat: int) -> None:
        self.browser = browser
        self.site = site
        self.repeat = repeat

    def context(self, viewer: Viewer) -> BrowserContext:
        context = self.browser.new_context(viewport=VIEWPORT, service_workers="block")
        context.add_init_script(PROBE)
        context.add_cookies(
            [{"name": "sessionid", "value": self.site.session, "url": viewer.origin}]
        )
        return context

    def load(self, page: Page, viewer: Viewer, case: Case) -> dict[str, Any]:
        """Open the case; wait for the first image and for every frame; return the times."""
        page.goto("about:blank")
        page.goto(viewer.url(self.site, case), wait_until="commit")
        page.wait_for_function("window.__bench && window.__bench.firstImage !== null",
                               timeout=LOAD_TIMEOUT_MS, polling=50)  # fmt: skip
        result: dict[str, Any] = {"first_image": page.evaluate("window.__bench.firstImage")}
        n = case.slices
        if viewer.ours:
            page.wait_for_selector("#viewer[data-state=ready]", timeout=LOAD_TIMEOUT_MS)
            result["decoded"] = page.evaluate(
                "performance.getEntriesByName('nf:images-loaded')[0]?.startTime ?? null"
            )
            result["ready"] = page.evaluate(
                "performance.getEntriesByName('nf:ready')[0]?.startTime ?? null"
            )
        else:
            with contextlib.suppress(Exception):  # OHIF may never ask for every frame
                page.wait_for_function(
                    f"window.__bench.imagesLoaded >= {n}",
                    timeout=OHIF_ALL_FRAMES_WAIT_MS,
                    polling=50,
                )
            loaded = page.evaluate("window.__bench.imagesLoaded")
            result["decoded_count"] = loaded
            result["decoded"] = (
                page.evaluate("window.__bench.lastImageLoaded") if loaded >= n else None
            )
        frames = page.evaluate(FRAME_TIMES)
        result["frame_requests"] = frames["count"]
        result["frames"] = frames["last"] if frames["count"] >= n else None
        return result

    def warm_up_server(self, viewers: Sequence[Viewer], cases: Sequence[Case]) -> None:
        """One untimed load of each: gunicorn's workers import their views on first use."""
        print("warming up the server", flush=True)
        for case in cases:
            for viewer in viewers:
                context = self.context(viewer)
                try:
                    self.load(context.new_page(), viewer, case)
                finally:
                    context.close()

    def measure(self, viewer: Viewer, case: Case) -> Figures:
        figures = Figures()
        print(f"[{viewer.name} {case.label}] cold x{self.repeat}", flush=True)
        for _ in range(self.repeat):
            context = self.context(viewer)
            try:
                page = context.new_page()
                loaded = self.load(page, viewer, case)
                if viewer.ours and "breakdown" not in figures.notes:
                    figures.notes["breakdown"] = json.dumps(page.evaluate(BREAKDOWN))
            finally:
                context.close()
            self.record(figures, "cold", loaded, case)
        print(f"[{viewer.name} {case.label}] warm: 2 priming, x{self.repeat}", flush=True)
        context = self.context(viewer)
        try:
            page = context.new_page()
            for _ in range(2):
                self.load(page, viewer, case)
            for _ in range(self.repeat):
                self.record(figures, "warm", self.load(page, viewer, case), case)
            scroll = page.evaluate(SCROLL, SCROLL_MS)
            figures.add("scroll_fps", scroll["fps"])
            figures.add("scroll_renders_per_s", scroll["renders_per_s"])
            if viewer.ours:
                self.saves(page, figures)
        finally:
            context.close()
        figures.settle()
        return figures

    def record(self, figures: Figures, kind: str, loaded: dict[str, Any], case: Case) -> None:
        figures.add(f"first_image_{kind}_ms", loaded["first_image"])
        figures.add(f"frames_received_{kind}_ms", loaded["frames"])
        figures.add(f"frames_decoded_{kind}_ms", loaded["decoded"])
        if kind == "cold" and loaded["frames"] is None:
            figures.notes[f"frames_received_{kind}_ms"] = (
                f"requested {loaded['frame_requests']} of {case.slices} frames"
            )
        if loaded.get("decoded") is None and "decoded_count" in loaded:
            figures.notes[f"frames_decoded_{kind}_ms"] = (
                f"decoded {loaded['decoded_count']} of {case.slices} in"
                f" {OHIF_ALL_FRAMES_WAIT_MS / 1000:g} s"
            )

    def saves(self, page: Page, figures: Figures) -> None:
        for _ in range(SAVES):
            result = page.evaluate(SAVE)
            if result["total"] is None:
                figures.notes["save_ms"] = f"save failed: {result['text']}"
                return
            figures.add("save_ms", result["total"])
            figures.add("save_post_ms", result["post"])

    def screenshot(self, viewer: Viewer, case: Case, path: Path) -> None:
        context = self.context(viewer)
        try:
            page = context.new_page()
            self.load(page, viewer, case)
            model = page.locator(".nf-finding", has_text="confidence").first
            model.locator(".nf-finding-jump").click()
            page.wait_for_timeout(800)
            page.mouse.move(0, 0)
            path.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(path))
        finally:
            context.close()


# --- report -------------------------------------------------------------------------------------
ROWS = [
    ("first_image_cold_ms", "first image, cold"),
    ("first_image_warm_ms", "first image, warm"),
    ("frames_received_cold_ms", "all frames received, cold"),
    ("frames_decoded_cold_ms", "all frames decoded, cold"),
    ("frames_received_warm_ms", "all frames received, warm"),
    ("frames_decoded_warm_ms", "all frames decoded, warm"),
    ("save_ms", "save round trip"),
    ("save_post_ms", "  of which the POST"),
    ("scroll_fps", "scroll: page frames/s"),
    ("scroll_renders_per_s", "scroll: renders/s"),
]
HIGHER_IS_BETTER = {"scroll_fps", "scroll_renders_per_s"}


def fmt(value: float | None, unit: str = "") -> str:
    if value is None:
        return "-"
    return f"{value:.0f}{unit}" if abs(value) >= 10 else f"{value:.1f}{unit}"


def report(results: dict[str, dict[str, Figures]], cases: Sequence[Case]) -> str:
    lines = []
    for case in cases:
        ours = results.get("ours", {}).get(case.label)
        hop = results.get("ours via serve.py", {}).get(case.label)
        ohif = results.get("OHIF via serve.py", {}).get(case.label)
        lines.append(f"LIDC-IDRI-{case.label} ({case.slices} slices), median ms unless stated")
        header = ("", "target", "ours", "ours+hop", "OHIF+hop", "OHIF/ours")
        lines.append(f"  {header[0]:<28}{header[1]:>8}{header[2]:>12}{header[3]:>10}"
                     f"{header[4]:>10}{header[5]:>11}")  # fmt: skip
        for key, label in ROWS:
            values = [f.values.get(key) if f else None for f in (ours, hop, ohif)]
            if all(v is None for v in values) and not any(
                f and key in f.notes for f in (ours, hop, ohif)
            ):
                continue
            target = TARGETS.get(key)
            met = ""
            if target is not None and values[0] is not None:
                met = " ok" if values[0] < target else " MISS"
            ratio = None
            if values[1] and values[2]:
                ratio = values[1] / values[2] if key in HIGHER_IS_BETTER else values[2] / values[1]
            lines.append(
                f"  {label:<28}{fmt(target):>8}{fmt(values[0]) + met:>12}{fmt(values[1]):>10}"
                f"{fmt(values[2]):>10}{fmt(ratio, 'x'):>11}"
            )
        for name, figures in (("ours", ours), ("ours+hop", hop), ("OHIF", ohif)):
            for key, note in (figures.notes if figures else {}).items():
                if key != "breakdown":
                    lines.append(f"  note ({name}, {key}): {note}")
        lines.append("")
    lines.append("OHIF/ours > 1 means ours is faster (for frames/s: ours/OHIF).")
    return "\n".join(lines)


def breakdown(results: dict[str, dict[str, Figures]], cases: Sequence[Case]) -> str:
    lines = ["Where our cold load goes (ms from navigation start; [start, end]):"]
    for case in cases:
        figures = results.get("ours", {}).get(case.label)
        if not figures or "breakdown" not in figures.notes:
            continue
        parts = json.loads(figures.notes["breakdown"])
        lines.append(f"  LIDC-IDRI-{case.label}:")
        for key, value in parts.items():
            if isinstance(value, list):
                value = "[" + ", ".join(fmt(v) for v in value) + "]"
            elif isinstance(value, dict):
                value = ", ".join(f"{k} {fmt(v)}" for k, v in value.items())
            else:
                value = fmt(value)
            lines.append(f"    {key:<20}{value}")
    return "\n".join(lines)


# --- main ---------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--series", choices=("0001", "0003", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=3, help="measured loads per figure")
    parser.add_argument("--only", choices=("ours", "ohif"))
    parser.add_argument("--ohif-version", default=OHIF_VERSION)
    parser.add_argument("--ohif-dist", type=Path, help="an OHIF dist/ to use instead of npm pack")
    parser.add_argument("--screenshot", type=Path, default=REPO / "docs" / "images" / "viewer.png")
    parser.add_argument("--no-screenshot", action="store_true")
    parser.add_argument("--keep-temp", action="store_true")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    labels = ["0001", "0003"] if args.series == "both" else [args.series]
    missing = [label for label in labels if not (args.data / SERIES_DIRS[label]).is_dir()]
    if missing:
        print(f"no LIDC-IDRI-{missing[0]} under {args.data} (pass --data)", file=sys.stderr)
        return 2
    if not (REPO / "frontend" / "dist" / "manifest.json").is_file():
        print("build the frontend first: cd frontend && npm run build", file=sys.stderr)
        return 2
    dist = None if args.only == "ours" else ohif_dist(args.ohif_version, args.ohif_dist)
    workdir = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    results: dict[str, dict[str, Figures]] = {}
    try:
        with contextlib.ExitStack() as stack:
            direct, made = stack.enter_context(our_server(workdir, args.data, labels))
            proxied = None
            if dist is not None:
                proxied = stack.enter_context(front_server(workdir, direct, dist, made["project"]))
            cases = tuple(
                Case(c["label"], c["slices"], c["study_uid"], c["series_uid"], c["task_id"])
                for c in made["cases"]
            )
            site = Site(direct, proxied, made["project"], made["session"], cases)
            viewers = []
            if args.only != "ohif":
                viewers.append(Viewer("ours", direct, ours=True))
            if proxied is not None:
                if args.only != "ohif":
                    viewers.append(Viewer("ours via serve.py", proxied, ours=True))
                viewers.append(Viewer("OHIF via serve.py", proxied, ours=False))
            playwright = stack.enter_context(sync_playwright())
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            stack.callback(browser.close)
            bench = Bench(browser, site, args.repeat)
            bench.warm_up_server(viewers, cases)
            if not args.no_screenshot and args.only != "ohif":
                # Before the saves below: the task still opens on the model's revision.
                bench.screenshot(viewers[0], cases[0], args.screenshot)
                print(f"screenshot: {args.screenshot}")
            # Viewer by viewer per series, so that both meet the same machine state.
            for case in cases:
                for viewer in viewers:
                    results.setdefault(viewer.name, {})[case.label] = bench.measure(viewer, case)
            print(f"\nChromium {browser.version}, OHIF {args.ohif_version}, "
                  f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")  # fmt: skip
    finally:
        if args.keep_temp:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    print(report(results, cases))
    print()
    print(breakdown(results, cases))
    RESULTS_DIR.mkdir(exist_ok=True)
    now = dt.datetime.now().astimezone()
    out = RESULTS_DIR / f"viewer-{now:%Y%m%d-%H%M%S}.json"
    payload = {
        "date": now.isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "args": {k: str(v) for k, v in vars(args).items()},
        "cases": [c.__dict__ for c in cases],
        "targets": TARGETS,
        "results": {
            name: {
                label: {"values": f.values, "samples": f.samples, "notes": f.notes}
                for label, f in per_case.items()
            }
            for name, per_case in results.items()
        },
    }
    out.write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {out.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
