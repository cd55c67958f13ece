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
        project, logins = load_demo(logins_file=Path(settings.VAR_DIR) / "demo_logins.json")
        self.stdout.write(self.style.SUCCESS(f"Demo project #{project.pk}: {project.name}"))
        self.stdout.write(f"Open {url} and sign in as one of:")
        for login in logins:
            self.stdout.write(f"  {login.username:<12} {login.password:<14} {login.role}")
