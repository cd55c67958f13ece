"""The lead's dashboard at 100k tasks: selector, page and CSV latency. Prints figures, asserts none.

    .venv/bin/python bench/dashboard.py [--tasks 100000] [--repeat 7] [--explain] [--keep]

(``make bench-dashboard``.) Needs PostgreSQL on 127.0.0.1 (``BENCH_DATABASE_URL`` overrides
``postgres://postgres@127.0.0.1:5432/nf_bench_dashboard``). The database is dropped, created and
migrated, then filled with ``bulk_create``: 50 annotators, 10 reviewers, a lead; one project with
4 readers per series, so 100k tasks are 25k series (2 per study, 2.5 studies per patient); each
task lives a simulated life over the last 180 days (start delay, annotation, review wait, review,
15 % sent to rework once, 5 % twice), which sets its state and milestones; reviews (and the
revision they judge) for every decision taken; three model versions whose pre-annotations (80 %
of tasks) get better with time; 300 consensus rows. Then ``VACUUM ANALYZE``, as autovacuum would
have done on a live database.

Timed, each ``--repeat`` times (median; cold is the first call on a fresh connection):
``dashboard_for`` (the selector), the page through Django's test ``Client`` (a signed-in lead),
and the CSV export of every table (the streamed body read to the end). The slowest queries of
the selector are listed; ``--explain`` prints their ``EXPLAIN ANALYZE``. Figures go to
``bench/results/dashboard.json``. The database is dropped at the end unless ``--keep``.
"""

import argparse
import contextlib
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "platform"), str(ROOT)]
DATABASE_URL = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/nf_bench_dashboard"
)
os.environ.update(
    DJANGO_SETTINGS_MODULE="config.settings",
    PLATFORM_MODE="test",
    DJANGO_DEBUG="false",
    DATABASE_URL=DATABASE_URL,
    CELERY_BROKER_URL="memory://",  # nothing is queued
    LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING"),
)

import django

django.setup()

from django.core.management import call_command
from django.db import connection, connections, models
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Role, User
from annotations.dashboard import DASHBOARD_QUERIES, Table, dashboard_for
from annotations.models import Consensus, Review, ReviewDecision, Revision, Task, TaskState
from imaging.models import Patient, Series, SeriesState, Study
from inference.models import ModelVersion
from projects.models import Membership, Project
from projects.schema import default_schema

RESULTS = ROOT / "bench" / "results" / "dashboard.json"
DAYS = 180
ANNOTATORS, REVIEWERS, READERS = 50, 10, 4
CONSENSUSES = 300
BATCH = 5000
CHARACTERISTICS = [a["name"] for a in default_schema()["attributes"]]


# --- The database ------------------------------------------------------------------------------
def psql(sql: str) -> None:
    url = urlsplit(DATABASE_URL)
    subprocess.run(
        ["psql", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432),
         "-U", url.username or "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1",
         "-q", "-c", sql],
        check=True,
    )  # fmt: skip


def fresh_database() -> None:
    name = urlsplit(DATABASE_URL).path.lstrip("/")
    connections.close_all()
    psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{name}"')
    call_command("migrate", verbosity=0)


def drop_database() -> None:
    connections.close_all()
    psql(f'DROP DATABASE IF EXISTS "{urlsplit(DATABASE_URL).path.lstrip("/")}" WITH (FORCE)')


@contextlib.contextmanager
def timestamps_as_given() -> Iterator[None]:
    """Let bulk_create keep the created_at/updated_at we set (auto_now would overwrite them)."""
    fields = [
        field
        for model in (Project, Patient, Study, Series, Task, Revision, Review, Consensus)
        for field in model._meta.fields
        if isinstance(field, models.DateTimeField) and (field.auto_now or field.auto_now_add)
    ]
    saved = [(field, field.auto_now, field.auto_now_add) for field in fields]
    for field in fields:
        field.auto_now = field.auto_now_add = False
    try:
        yield
    finally:
        for field, auto_now, auto_now_add in saved:
            field.auto_now, field.auto_now_add = auto_now, auto_now_add


# --- A task's simulated life -------------------------------------------------------------------
def minutes(rng: random.Random, median: float) -> timedelta:
    return timedelta(minutes=rng.lognormvariate(0, 0.6) * median)


def days(rng: random.Random, mean: float) -> timedelta:
    return timedelta(days=rng.expovariate(1 / mean))


def live(task: Task, rng: random.Random, now: datetime, reviewers: list[User]) -> list[Review]:
    """Walk the task through start, submit, review (and rework) until `now`; set its state and
    milestones; return the reviews decided so far (their revision is filled in later)."""
    reviews: list[Review] = []
    # Annotators are the bottleneck: a new task waits weeks for its reader.
    start = task.created_at + days(rng, 20)
    if start > now:
        return reviews  # new
    task.started_at, task.state = start, TaskState.IN_PROGRESS
    submit = start + minutes(rng, 25)
    if rng.random() < 0.1:
        submit += days(rng, 3)  # left half done, finished days later
    reviewer = rng.choice(reviewers)
    for round_ in range(3):
        if submit > now:
            return reviews  # in progress (again, when sent back)
        task.submitted_at, task.state = submit, TaskState.SUBMITTED
        review_start = submit + days(rng, 3)
        if review_start > now:
            return reviews
        task.review_started_at, task.state, task.reviewer = (
            review_start,
            TaskState.IN_REVIEW,
            reviewer,
        )
        decided = review_start + minutes(rng, 8)
        if decided > now:
            return reviews
        rework = rng.random() < (0.15, 0.33, 0.0)[round_]  # 15 % once, 5 % twice
        decision = ReviewDecision.REWORK if rework else ReviewDecision.ACCEPTED
        reviews.append(
            Review(
                task=task, project_id=task.project_id, reviewer=reviewer, decision=decision,
                started_at=review_start, created_at=decided,
            )
        )  # fmt: skip
        if not rework:
            task.state, task.accepted_at = TaskState.ACCEPTED, decided
            return reviews
        task.state, task.rework_count = TaskState.REWORK, task.rework_count + 1
        again = decided + days(rng, 2)
        if again > now:
            return reviews
        task.state = TaskState.IN_PROGRESS
        submit = again + minutes(rng, 10)
    return reviews


def generate(total_tasks: int, seed: int = 7) -> tuple[Project, User]:
    rng = random.Random(seed)  # noqa: S311 -- made-up workload, no secret
    now = timezone.now()
    origin = now - timedelta(days=DAYS)
    series_count = total_tasks // READERS
    with timestamps_as_given():
        lead = User.objects.create(username="lead", display_name="Lead")
        annotators = User.objects.bulk_create(
            User(username=f"annotator{i:02d}", display_name=f"Annotator {i:02d}")
            for i in range(ANNOTATORS)
        )
        reviewers = User.objects.bulk_create(
            User(username=f"reviewer{i:02d}", display_name=f"Reviewer {i:02d}")
            for i in range(REVIEWERS)
        )
        project = Project.objects.create(
            name="Bench", slug="bench", readers_per_series=READERS, created_at=origin,
            updated_at=origin,
        )  # fmt: skip
        Membership.objects.bulk_create(
            [Membership(project=project, user=lead, role=Role.LEAD, created_at=origin)]
            + [Membership(project=project, user=u, role=Role.ANNOTATOR, created_at=origin)
               for u in annotators]
            + [Membership(project=project, user=u, role=Role.REVIEWER, created_at=origin)
               for u in reviewers]
        )  # fmt: skip
        models_ = ModelVersion.objects.bulk_create(
            ModelVersion(project=project, name="unet", version=f"v{i + 1}",
                         architecture="unet3d", created_at=origin, updated_at=origin)
            for i in range(3)
        )  # fmt: skip

        studies_count = series_count // 2
        patients = Patient.objects.bulk_create(
            (Patient(project=project, patient_id=f"P{i:06d}", created_at=origin)
             for i in range(max(1, studies_count * 2 // 5))),
            batch_size=BATCH,
        )  # fmt: skip
        studies = Study.objects.bulk_create(
            (Study(project=project, patient=patients[i % len(patients)],
                   study_instance_uid=f"2.25.1.{i}", created_at=origin, updated_at=origin)
             for i in range(studies_count)),
            batch_size=BATCH,
        )  # fmt: skip
        created_of_series = [
            origin + timedelta(days=DAYS * rng.random()) for _ in range(series_count)
        ]
        series = Series.objects.bulk_create(
            (Series(project=project, study=studies[i // 2], series_instance_uid=f"2.25.2.{i}",
                    modality="CT", state=SeriesState.READY, created_at=created,
                    updated_at=created)
             for i, created in enumerate(created_of_series)),
            batch_size=BATCH,
        )  # fmt: skip

        tasks: list[Task] = []
        reviews_of: list[list[Review]] = []
        for one, created in zip(series, created_of_series, strict=True):
            for slot, annotator in enumerate(rng.sample(annotators, READERS), start=1):
                task = Task(project=project, series=one, reader_slot=slot, assignee=annotator,
                            created_by=lead, created_at=created, updated_at=created)  # fmt: skip
                reviews_of.append(live(task, rng, now, reviewers))
                tasks.append(task)
        Task.objects.bulk_create(tasks, batch_size=BATCH)

        # One revision per reviewed task: the reviews judge it (the bench needs no labelmaps).
        judged = [
            (task, reviews) for task, reviews in zip(tasks, reviews_of, strict=True) if reviews
        ]
        revisions = Revision.objects.bulk_create(
            (Revision(task=task, author_id=task.assignee_id, labelmap=f"labelmaps/{task.pk}.nflm",
                      labelmap_sha256="0" * 64, labelmap_size=1, created_at=task.submitted_at)
             for task, _ in judged),
            batch_size=BATCH,
        )  # fmt: skip
        reviews: list[Review] = []
        for (task, decided), revision in zip(judged, revisions, strict=True):
            for review in decided:
                review.revision = revision
                if review.decision == ReviewDecision.ACCEPTED and rng.random() < 0.8:
                    # Later versions need fewer corrections.
                    age = (task.created_at - origin) / timedelta(days=DAYS)
                    version = min(2, int(age * 3))
                    review.model_version = models_[version]
                    review.model_dice = round(rng.betavariate(7 + 3 * version, 3), 4)
                reviews.append(review)
        Review.objects.bulk_create(reviews, batch_size=BATCH)

        Consensus.objects.bulk_create(
            (Consensus(project=project, series=one, proposed_labelmap=f"consensus/{one.pk}.nflm",
                       created_at=now, agreement=agreement(rng))
             for one in rng.sample(series, min(CONSENSUSES, len(series)))),
            batch_size=BATCH,
        )  # fmt: skip
    return project, lead


def agreement(rng: random.Random) -> dict[str, Any]:
    return {
        "mean_pairwise_dice": round(rng.uniform(0.5, 0.9), 4),
        "mean_f1": round(rng.uniform(0.6, 1.0), 4) if rng.random() < 0.9 else None,
        "fleiss_kappa": {
            name: round(rng.uniform(-0.1, 0.8), 4) if rng.random() < 0.8 else None
            for name in CHARACTERISTICS
        },
    }


# --- Timing ------------------------------------------------------------------------------------
def timed(action: Callable[[], object], repeat: int) -> tuple[float, float]:
    """(cold, warm median) in ms: cold is the first call on a fresh connection."""
    connections.close_all()
    start = time.perf_counter()
    action()
    cold = (time.perf_counter() - start) * 1000
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        action()
        runs.append((time.perf_counter() - start) * 1000)
    return cold, statistics.median(runs)


def query_times(project: Project, repeat: int) -> list[dict[str, Any]]:
    """Each query of dashboard_for with its median and fastest time over `repeat` warm calls
    (the fastest is the figure least disturbed by other work on a shared machine)."""
    # By position: the calls make the same queries in the same order (the SQL text differs in
    # the "last 7 days" timestamp).
    sql: list[str] = []
    times: list[list[float]] = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as captured:
            dashboard_for(project)
        for i, query in enumerate(captured.captured_queries):
            if i == len(sql):
                sql.append(query["sql"])
                times.append([])
            times[i].append(float(query["time"]) * 1000)
    queries = [
        {"median_ms": statistics.median(ms), "min_ms": min(ms), "sql": text}
        for text, ms in zip(sql, times, strict=True)
    ]
    return sorted(queries, key=lambda q: -q["median_ms"])


def explain(sql: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--explain", action="store_true", help="EXPLAIN ANALYZE the slowest")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()

    fresh_database()
    try:
        start = time.perf_counter()
        project, lead = generate(args.tasks)
        generated = time.perf_counter() - start
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
        counts = {
            "tasks": Task.objects.count(),
            "series": Series.objects.count(),
            "reviews": Review.objects.count(),
            "consensuses": Consensus.objects.count(),
        }
        states = dict(Task.objects.values_list("state").annotate(n=models.Count("pk")))
        print(f"generated in {generated:.0f} s: {counts}; states {states}")

        client = Client()
        client.force_login(lead)
        url = f"/projects/{project.pk}/dashboard/"

        def page() -> None:
            response = client.get(url)
            assert response.status_code == 200, response.status_code

        def csv_export() -> None:
            for table in Table:
                response = client.get(f"/projects/{project.pk}/dashboard.csv?table={table}")
                assert response.status_code == 200, (table, response.status_code)
                b"".join(response.streaming_content)

        # Templates, the Vite manifest and URL resolving load once per process: warm them on
        # an empty project, so that "cold" below is a fresh database connection, not start-up.
        empty = Project.objects.create(name="Empty", slug="empty")
        Membership.objects.create(project=empty, user=lead, role=Role.LEAD)
        assert client.get(f"/projects/{empty.pk}/dashboard/").status_code == 200
        rows = {
            "dashboard_for": timed(lambda: dashboard_for(project), args.repeat),
            "page (test Client)": timed(page, args.repeat),
            f"CSV, all {len(Table)} tables": timed(csv_export, args.repeat),
        }
        with CaptureQueriesContext(connection) as page_queries:
            page()
        slow = query_times(project, args.repeat)
        plans = [(q["sql"], explain(q["sql"])) for q in slow[:3]] if args.explain else []
    finally:
        if not args.keep:
            drop_database()

    print(f"\n{counts['tasks']:,} tasks, {counts['series']:,} series, "
          f"{counts['reviews']:,} reviews; PostgreSQL; {platform.node()} "
          f"({os.cpu_count()} CPUs)\n")  # fmt: skip
    print(f"| what | cold ms | warm ms (median of {args.repeat}) |")
    print("|---|---:|---:|")
    for name, (cold, warm) in rows.items():
        print(f"| {name} | {cold:.0f} | {warm:.0f} |")
    print(f"\nqueries: dashboard_for {DASHBOARD_QUERIES}, page {len(page_queries)}")
    print(f"\nqueries of dashboard_for, warm ms (median and fastest of {args.repeat}):")
    for query in slow:
        print(f"  {query['median_ms']:6.0f} {query['min_ms']:6.0f}  {query['sql'][:100]}…")
    total_min = sum(q["min_ms"] for q in slow)
    print(f"  sum of the fastest: {total_min:.0f} ms; load average {os.getloadavg()[0]:.1f}")
    for sql, plan in plans:
        print(f"\n{sql}\n{plan}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "date": timezone.now().isoformat(timespec="seconds"),
                "machine": {"node": platform.node(), "cpus": os.cpu_count()},
                "data": counts,
                "states": states,
                "repeat": args.repeat,
                "ms": {
                    name: {"cold": round(c, 1), "warm": round(w, 1)}
                    for name, (c, w) in rows.items()
                },
                "queries": {"dashboard_for": DASHBOARD_QUERIES, "page": len(page_queries)},
                "load_average_1min": os.getloadavg()[0],
                "queries_ms": [
                    {k: round(v, 1) if isinstance(v, float) else v for k, v in q.items()}
                    for q in slow
                ],
            },
            indent=2,
        )
        + "\n"
    )
    print(f"\nwritten to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
