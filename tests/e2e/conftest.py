"""A live server on a real LIDC case, and headless Chromium, shared by the tests of a module.

The case takes seconds to ingest, process and pre-annotate, so it is set up once per module and
committed (a live server thread cannot see a test's uncommitted transaction); the module's
teardown flushes the database, as pytest-django's transactional tests do after each test.
"""

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.db import DEFAULT_DB_ALIAS, connections
from django.test.utils import override_settings
from playwright.sync_api import Browser, Page, sync_playwright
from pytest_django.live_server_helper import LiveServer
from rest_framework.authtoken.models import Token

from accounts.models import Role, User
from annotations.models import Task
from annotations.services import create_task
from imaging.deid import UidMapper
from imaging.dicomweb.auth import clear_caches
from imaging.models import Series
from imaging.processing import process_series
from imaging.services import ingest_instance
from inference.models import InferenceRun
from inference.registry import ensure_default_model
from inference.services import run_preannotation
from tests.factories import PASSWORD, MembershipFactory, ProjectFactory

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LIDC_0001 = settings.SHARED_DATA_DIR / "lidc" / "LIDC-IDRI-0001"


@pytest.fixture(autouse=True)
def media_in_tmp() -> None:
    """Replaces the root conftest's per-test media root: the module's server reads the files
    ingested once for the whole module (see `media_root`)."""


@dataclass(frozen=True)
class Case:
    """LIDC-IDRI-0001 in a project, as a task of the annotator with the model's revision."""

    task_id: int
    slices: int
    annotator: str
    password: str
    token: str
    model_revision_id: int


@pytest.fixture(scope="module")
def media_root(tmp_path_factory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("e2e-media")
    storages = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }
    with override_settings(MEDIA_ROOT=root, STORAGES=storages):
        yield root


@pytest.fixture(scope="module")
def lidc_case(django_db_setup, django_db_blocker, media_root: Path) -> Iterator[Case]:
    if not LIDC_0001.is_dir():
        pytest.skip(f"the shared LIDC data is not at {LIDC_0001}")
    # Server threads keep a browser's connection open between requests; with persistent
    # database connections each would hold a session that blocks dropping the test database.
    database = connections.settings[DEFAULT_DB_ALIAS]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    with django_db_blocker.unblock():
        try:
            yield _make_case()
        finally:
            clear_caches()
            call_command("flush", interactive=False, verbosity=0)
            database["CONN_MAX_AGE"] = max_age


def _make_case() -> Case:
    started = time.perf_counter()
    project = ProjectFactory.create(preannotate_on_ingest=False)
    annotator: User = MembershipFactory.create(project=project, role=Role.ANNOTATOR).user
    files = sorted(LIDC_0001.rglob("*.dcm"))
    # Instance by instance rather than ingest_batch, which would queue post-processing on the
    # broker for whatever worker is up: here it runs now, in this process.
    mapper = UidMapper(project)
    reports = [
        ingest_instance(project=project, name=f.name, data=f.read_bytes(), mapper=mapper)
        for f in files
    ]
    series_ids = {r.series_id for r in reports if r.series_id}
    assert len(series_ids) == 1, reports[:3]
    series_id = series_ids.pop()
    assert process_series(series_id=series_id)
    series = Series.objects.get(pk=series_id)
    assert series.fit_for_3d, series.unfit_reason
    task: Task = create_task(series=series, assignee=annotator)
    run = InferenceRun.objects.create(series=series, model_version=ensure_default_model(project))
    run = run_preannotation(run_id=run.pk)
    assert run.revision_id is not None, run.error
    token, _ = Token.objects.get_or_create(user=annotator)
    print(f"e2e case ready in {time.perf_counter() - started:.1f} s")
    return Case(
        task_id=task.pk,
        slices=len(files),
        annotator=annotator.username,
        password=PASSWORD,
        token=token.key,
        model_revision_id=run.revision_id,
    )


@pytest.fixture(scope="module")
def server(lidc_case: Case) -> Iterator[str]:
    """The live server's URL (Django's threaded server; it serves static files by the finders,
    so the built frontend/dist is what the browser gets)."""
    live = LiveServer("127.0.0.1")  # in ALLOWED_HOSTS of the test settings
    try:
        yield live.url
    finally:
        live.stop()


@pytest.fixture
def browser() -> Iterator[Browser]:
    """Chromium for one test, started after the test's database transaction: Playwright's sync
    API keeps an event loop running, under which Django would refuse (or, allowed, open a second
    connection that outlives the test)."""
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    yield page
    context.close()
