from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from annotations.lidc_import import import_lidc_reads
from config.errors import PlatformError
from projects.models import Project


class Command(BaseCommand):
    help = (
        "Import LIDC read XML files as the independent readers of their (already ingested) "
        "series, and build each series' consensus with its agreement figures."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--project", required=True, help="project id or slug")
        parser.add_argument("xml", nargs="+", type=Path, help="LIDC read XML files or folders")

    def handle(self, *args: Any, project: str, xml: list[Path], **options: Any) -> None:
        found = Project.objects.filter(
            **({"pk": int(project)} if project.isdigit() else {"slug": project})
        ).first()
        if found is None:
            raise CommandError(f"no project {project!r}")
        files = [f for p in xml for f in (sorted(p.rglob("*.xml")) if p.is_dir() else [p])]
        for path in files:
            try:
                consensus = import_lidc_reads(project=found, xml=path)
            except PlatformError as error:
                self.stderr.write(f"{path.name}: {error.detail}")
                continue
            if consensus is None:
                self.stdout.write(f"{path.name}: imported; consensus waits for the readers")
                continue
            figures = consensus.agreement
            self.stdout.write(
                f"{path.name}: consensus #{consensus.pk}, {len(consensus.matches)} nodule(s), "
                f"mean pairwise Dice {figures.get('mean_pairwise_dice')}, "
                f"mean F1 {figures.get('mean_f1')}"
            )
