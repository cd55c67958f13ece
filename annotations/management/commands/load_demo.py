from collections import Counter
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from annotations.demo import load_demo


class Command(BaseCommand):
    help = "Create the demo users and project (idempotent) and print how to sign in."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--url", default="http://127.0.0.1:8000/", help="URL to print")

    def handle(self, *args: Any, url: str, **options: Any) -> None:
        project, logins, reports = load_demo(
            logins_file=Path(settings.VAR_DIR) / "demo_logins.json",
            data_dir=Path(settings.SHARED_DATA_DIR) / "lidc",
        )
        counts = Counter(report.outcome.value for report in reports)
        summary = ", ".join(f"{n} {outcome}" for outcome, n in sorted(counts.items())) or "none"
        self.stdout.write(self.style.SUCCESS(f"Demo project #{project.pk}: {project.name}"))
        self.stdout.write(f"LIDC instances: {summary}")
        self.stdout.write(f"Open {url} and sign in as one of:")
        for login in logins:
            self.stdout.write(f"  {login.username:<12} {login.password:<14} {login.role}")
