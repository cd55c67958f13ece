"""The demo project that `make run` loads: demo users with one role each, and a project holding
the shared LIDC cases.

Passwords are random, made on the first run and kept in var/demo_logins.json (mode 600), so a
demo started on a shared machine does not come with well-known credentials.
"""

import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from django.db import transaction

from accounts.models import Role, User
from accounts.services import create_user
from annotations.lidc_import import import_lidc_reads
from annotations.services import create_task
from imaging.models import Series
from imaging.outcomes import IngestReport
from imaging.processing import process_series
from imaging.services import ingest_batch
from projects.models import Membership, Project
from projects.services import create_project

DEMO_PROJECT_NAME = "LIDC demo: lung nodules"


@dataclass(frozen=True, slots=True)
class DemoLogin:
    username: str
    password: str
    role: str


DEMO_USERS: tuple[tuple[str, str, Role | None], ...] = (
    ("admin", "Site admin", None),
    ("lead", "Dr Lead", Role.LEAD),
    ("annotator1", "Dr Annotator One", Role.ANNOTATOR),
    ("annotator2", "Dr Annotator Two", Role.ANNOTATOR),
    ("reviewer", "Dr Reviewer", Role.REVIEWER),
)


def _passwords(path: Path) -> dict[str, str]:
    known: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for username, _, _ in DEMO_USERS:
        known.setdefault(username, secrets.token_urlsafe(9))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(known, indent=2))
    path.chmod(0o600)
    return known


def load_demo(
    *, logins_file: Path, data_dir: Path | None = None
) -> tuple[Project, list[DemoLogin], list[IngestReport]]:
    """Create (or complete) the demo users and project and ingest the LIDC cases in `data_dir`;
    safe to run on every start (instances already there are reported as duplicates)."""
    project, logins = _users_and_project(logins_file)
    reports: list[IngestReport] = []
    files = sorted(data_dir.rglob("*.dcm")) if data_dir and data_dir.is_dir() else []
    for start in range(0, len(files), INGEST_BATCH):
        batch = files[start : start + INGEST_BATCH]
        reports += ingest_batch(project=project, items=[(f.name, f.read_bytes()) for f in batch])
    if data_dir is not None:
        _import_lidc_reads(project, data_dir)
    _assign_untasked_series(project)
    return project, logins, reports


# This case's four LIDC reads become four readers, so the demo has a consensus to review.
CONSENSUS_CASE = "LIDC-IDRI-0003"


def _import_lidc_reads(project: Project, data_dir: Path) -> None:
    for xml in sorted(data_dir.glob(f"{CONSENSUS_CASE}/*/*/*.xml")):
        series = (
            Series.objects.filter(project=project, series_instance_uid__isnull=False)
            .filter(series_instance_uid=xml.parent.name)
            .first()
        )
        if series is None:
            continue
        if not series.geometry:  # the worker may not have got to it yet: do it here, once
            process_series(series_id=series.pk)
        import_lidc_reads(project=project, xml=xml)


def _assign_untasked_series(project: Project) -> None:
    """One task per demo series for annotator1, so the viewer has work to open."""
    annotator = User.objects.get(username="annotator1")
    for series in Series.objects.filter(project=project, tasks__isnull=True).order_by("pk"):
        create_task(series=series, assignee=annotator)


INGEST_BATCH = 32


@transaction.atomic
def _users_and_project(logins_file: Path) -> tuple[Project, list[DemoLogin]]:
    passwords = _passwords(logins_file)
    users: dict[str, User] = {}
    for username, display_name, role in DEMO_USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = create_user(
                username=username,
                password=passwords[username],
                display_name=display_name,
                is_site_admin=role is None,
            )
        users[username] = user
    project = Project.objects.filter(name=DEMO_PROJECT_NAME).first()
    if project is None:
        project = create_project(
            creator=users["admin"],
            name=DEMO_PROJECT_NAME,
            description="Two LIDC-IDRI chest CTs with four radiologists' reads each.",
            # LIDC is de-identified at source; keeping its UIDs lets the LIDC XML reads, which
            # name images by SOPInstanceUID, be imported against the stored instances.
            deidentify=False,
        )
        Membership.objects.filter(project=project, user=users["admin"]).delete()
    for username, _, role in DEMO_USERS:
        if role is not None:
            Membership.objects.get_or_create(project=project, user=users[username], role=role)
    logins = [
        DemoLogin(username, passwords[username], role.value if role else "site admin")
        for username, _, role in DEMO_USERS
    ]
    return project, logins
