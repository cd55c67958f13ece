"""`manage.py import_dicom PATH... --project P`: ingest files, folders and zips from disk."""

from collections import Counter
from pathlib import Path
from typing import Any, TextIO, cast

from django.core.management.base import BaseCommand, CommandError, CommandParser
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from imaging.archives import BATCH_FILES, Result, count_paths, expand_paths, ingest_entries
from imaging.outcomes import IngestReport, Outcome
from projects.models import Project

ORDER = ("stored", "duplicate", "skipped", "conflict", "rejected")
FAILED = frozenset({Outcome.CONFLICT.value, Outcome.REJECTED.value})


class Command(BaseCommand):
    help = (
        "Import DICOM files, folders (recursively) and .zip archives into a project. "
        "Exits non-zero if any file was rejected or conflicts with a stored instance."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path, help="files, folders or .zip archives")
        parser.add_argument("--project", required=True, help="project id or slug")
        parser.add_argument(
            "--batch-size",
            type=int,
            default=BATCH_FILES,
            help=f"files per ingest batch (default {BATCH_FILES}); bounds memory",
        )

    def handle(
        self, *args: Any, paths: list[Path], project: str, batch_size: int, **_: Any
    ) -> None:
        target = project_by_id_or_slug(project)
        missing = [str(path) for path in paths if not path.exists()]
        if missing:
            raise CommandError(f"no such file or folder: {', '.join(missing)}")
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")

        # Rich writes partial lines; Django's wrapper would otherwise end each with a newline.
        self.stdout.ending = ""
        # Off a terminal (a log, a test) rich would wrap long paths at 80 columns.
        width = None if self.stdout.isatty() else 200
        console = Console(file=cast(TextIO, self.stdout), width=width, highlight=False)
        counts: Counter[str] = Counter()
        failures: list[Result] = []
        series: set[int] = set()
        entries = expand_paths(paths)
        results = ingest_entries(project=target, entries=entries, batch_files=batch_size)
        with _progress(console) as progress:
            task = progress.add_task("Importing", total=count_paths(paths))
            for result in results:
                counts[str(result.outcome)] += 1
                if str(result.outcome) in FAILED:
                    failures.append(result)
                if isinstance(result, IngestReport) and result.outcome == Outcome.STORED:
                    series.add(result.series_id or 0)
                progress.advance(task)

        console.print(_summary(target, counts))
        if series:
            console.print(f"{len(series)} series got new instances; post-processing is queued.")
        if failures:
            console.print(_failures(failures))
            raise CommandError(f"{len(failures)} file(s) were not imported (listed above)")


def project_by_id_or_slug(value: str) -> Project:
    found = (
        Project.objects.filter(pk=int(value)).first()
        if value.isdigit()
        else Project.objects.filter(slug=value).first()
    )
    if found is None:
        raise CommandError(f"no project with id or slug {value!r}")
    return found


def _progress(console: Console) -> Progress:
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        # A log file or CI output gets the summary only, not thousands of redraws.
        disable=not console.is_terminal,
    )


def _summary(project: Project, counts: Counter[str]) -> Table:
    table = Table(title=f"Import into project #{project.pk} ({escape(project.slug)})")
    table.add_column("Outcome")
    table.add_column("Files", justify="right")
    for outcome in ORDER:
        table.add_row(outcome, str(counts.get(outcome, 0)))
    table.add_row("total", str(sum(counts.values())), style="bold")
    return table


def _failures(failures: list[Result]) -> Table:
    table = Table(title="Not imported")
    table.add_column("File", overflow="fold")
    table.add_column("Outcome")
    table.add_column("Reason", overflow="fold")
    for result in failures:
        # Names and reasons come from files on disk: never let them read as rich markup.
        table.add_row(escape(result.name), str(result.outcome), escape(result.reason))
    return table
