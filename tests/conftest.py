from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role, User
from config.celery_app import app as celery_app
from projects.models import Project
from tests import processes
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

if settings.PLATFORM_MODE != "test":
    raise pytest.UsageError("run the tests with `make test` (or PLATFORM_MODE=test pytest)")


def use_media_root(settings, root: Path) -> None:
    settings.MEDIA_ROOT = root
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root)},
        },
    }


@pytest.fixture(autouse=True)
def media_in_tmp(settings, tmp_path: Path) -> None:
    use_media_root(settings, tmp_path / "media")


@dataclass
class Team:
    """A project and one user in each position a permission check distinguishes."""

    project: Project
    admin: User
    lead: User
    annotator: User
    reviewer: User
    outsider: User

    def by_name(self, name: str) -> User | None:
        return None if name == "anonymous" else getattr(self, name)


@pytest.fixture
def team(db) -> Team:
    project = ProjectFactory.create()
    members = {role: MembershipFactory.create(project=project, role=role).user for role in Role}
    return Team(
        project=project,
        admin=UserFactory.create(is_staff=True, is_superuser=True),
        lead=members[Role.LEAD],
        annotator=members[Role.ANNOTATOR],
        reviewer=members[Role.REVIEWER],
        outsider=UserFactory.create(),
    )


@pytest.fixture
def api() -> Callable[[User | None], APIClient]:
    """An API client signed in with the user's token (or anonymous for None)."""

    def client_for(user: User | None) -> APIClient:
        client = APIClient()
        if user is not None:
            token, _ = Token.objects.get_or_create(user=user)
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


def database_url_for_subprocesses() -> str:
    db = connection.settings_dict
    return f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"


@dataclass(frozen=True)
class Worker:
    name: str
    media_root: Path


@pytest.fixture(scope="session")
def session_worker(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Worker]:
    """A real Celery worker process on the test database, the test Redis broker and a media
    root of its own (tests that use it store their files there too: see `celery_worker`)."""
    with django_db_blocker.unblock():
        database_url = database_url_for_subprocesses()
    celery_app.control.purge()
    folder = tmp_path_factory.mktemp("worker")
    worker = Worker(name="pytest-worker", media_root=folder / "media")
    env = processes.platform_env(
        PLATFORM_MODE="test", DATABASE_URL=database_url, MEDIA_ROOT=str(worker.media_root)
    )
    with processes.running(processes.worker_command(worker.name), env, folder / "worker.log"):
        processes.wait_until(
            lambda: bool(celery_app.control.ping(timeout=0.5)), 60, "the Celery worker"
        )
        yield worker


@pytest.fixture
def celery_worker(session_worker: Worker, settings) -> Worker:
    """The running worker, with this test's storage pointed at the worker's media root."""
    use_media_root(settings, session_worker.media_root)
    return session_worker
