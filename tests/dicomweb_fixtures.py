"""Fixtures and helpers shared by the DICOMweb tests: stored phantom series, multipart parsing
independent of the server's own parser, and a module-scoped live server on committed data."""

import email.message
import email.parser
import io
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pydicom
import pytest
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application
from django.db import DEFAULT_DB_ALIAS, connections
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts.models import Role, User
from imaging.dicomweb.auth import clear_caches
from imaging.models import Instance
from imaging.outcomes import IngestReport, Outcome
from imaging.services import ingest_batch
from projects.models import Project
from tests.dicom_factory import ct_dataset, to_bytes
from tests.factories import MembershipFactory, ProjectFactory, UserFactory

LIDC = Path(__file__).resolve().parents[2] / "shared" / "data" / "lidc"
STUDY = "1.2.826.0.1.3680043.8.498.1"
SERIES = "1.2.826.0.1.3680043.8.498.2"


# Fixtures are defined as *_fixture and named without the suffix: a test module imports the
# function (which registers the fixture) and its tests take the short name as an argument.


@pytest.fixture(autouse=True, name="fresh_access_cache")
def fresh_access_cache_fixture() -> Iterator[None]:
    """Each test starts without cached tokens or memberships from another test."""
    clear_caches()
    yield
    clear_caches()


@dataclass
class Stored:
    """A phantom series stored in a project: its UIDs and the bytes that went in."""

    project: Project
    study: str
    series: str
    sops: list[str]
    files: list[bytes]

    @property
    def base(self) -> str:
        return f"/dicomweb/projects/{self.project.pk}"

    def instance_url(self, index: int = 0) -> str:
        return f"{self.base}/studies/{self.study}/series/{self.series}/instances/{self.sops[index]}"


def store(project: Project, files: list[bytes]) -> list[IngestReport]:
    items = [(f"file-{i}", data) for i, data in enumerate(files)]
    reports = ingest_batch(project=project, items=items)
    assert all(r.outcome == Outcome.STORED for r in reports), [r.reason for r in reports]
    return reports


def phantom_files(count: int, **kwargs: Any) -> list[bytes]:
    return [to_bytes(ct_dataset(i, **kwargs)) for i in range(count)]


@pytest.fixture(name="phantom")
def phantom_fixture(team) -> Stored:
    """Four 32x32 CT slices in a project that keeps UIDs as sent (no de-identification)."""
    team.project.deidentify = False
    team.project.save(update_fields=["deidentify"])
    files = phantom_files(4)
    reports = store(team.project, files)
    return Stored(team.project, STUDY, SERIES, [r.sop_instance_uid for r in reports], files)


@pytest.fixture(name="token_client")
def token_client_fixture() -> Callable[[User], APIClient]:
    def client_for(user: User) -> APIClient:
        client = APIClient()
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    return client_for


def body_of(response: Any) -> bytes:
    """The body, read once: a streaming body cannot be read twice."""
    if not hasattr(response, "read_body"):
        streaming = getattr(response, "streaming", False)
        response.read_body = (
            b"".join(response.streaming_content) if streaming else bytes(response.content)
        )
    return bytes(response.read_body)


def parse_multipart(content_type: str, body: bytes) -> list[tuple[str, bytes]]:
    """(Content-Type, content) of each part, by the standard library's MIME parser."""
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser().parsebytes(head + body)
    payload = message.get_payload()
    assert message.is_multipart() and isinstance(payload, list), content_type
    parts = []
    for part in payload:
        assert isinstance(part, email.message.Message)
        content = part.get_payload(decode=True)
        assert isinstance(content, bytes)
        parts.append((str(part["Content-Type"]), content))
    return parts


def parts_of(response: Any) -> list[tuple[str, bytes]]:
    return parse_multipart(response["Content-Type"], body_of(response))


def pixel_data(data: bytes) -> bytes:
    return bytes(pydicom.dcmread(io.BytesIO(data)).PixelData)


def stored_bytes(project: Project, sop: str) -> bytes:
    instance = Instance.objects.get(project=project, sop_instance_uid=sop)
    with instance.file.open("rb") as stored:
        return stored.read()


# --- a live server over committed data, for dicomweb-client ----------------------------------


@dataclass
class LiveProject:
    url: str  # the DICOMweb base URL of the project
    project: Project
    member: User
    outsider: User
    tokens: dict[str, str]  # user name -> token key


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module", name="live_dicomweb")
def live_dicomweb_fixture(
    django_db_setup, django_db_blocker, tmp_path_factory
) -> Iterator[LiveProject]:
    """A project on committed rows, a WSGI server in a thread, and storage in a temp dir.

    pytest-django's live_server flushes the database after every test; this one keeps the
    rows for the whole module so the LIDC series is stored once, and deletes them at the end.
    """
    media = tmp_path_factory.mktemp("dicomweb-media")
    storages = {
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(media)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    # Server threads keep a client's connection open between requests; with persistent
    # database connections each would hold a session that blocks dropping the test database.
    database = connections.settings[DEFAULT_DB_ALIAS]
    max_age = database.get("CONN_MAX_AGE", 0)
    database["CONN_MAX_AGE"] = 0
    with override_settings(MEDIA_ROOT=media, STORAGES=storages), django_db_blocker.unblock():
        project = ProjectFactory.create(deidentify=False)
        member = MembershipFactory.create(project=project, role=Role.ANNOTATOR).user
        outsider = UserFactory.create()
        tokens = {
            "member": Token.objects.create(user=member).key,
            "outsider": Token.objects.create(user=outsider).key,
        }
        server = ThreadedWSGIServer(("127.0.0.1", 0), _QuietHandler, allow_reuse_address=False)
        server.set_app(get_wsgi_application())
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        port = server.server_address[1]
        try:
            yield LiveProject(
                f"http://127.0.0.1:{port}/dicomweb/projects/{project.pk}",
                project,
                member,
                outsider,
                tokens,
            )
        finally:
            server.shutdown()
            server.server_close()
            project.delete()
            User.objects.filter(pk__in=[member.pk, outsider.pk]).delete()
            database["CONN_MAX_AGE"] = max_age
