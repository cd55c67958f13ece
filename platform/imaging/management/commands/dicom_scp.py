"""`manage.py dicom_scp --port N --project P`: receive C-ECHO and C-STORE into a project."""

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from imaging.management.commands.import_dicom import project_by_id_or_slug
from imaging.scp import DEFAULT_AE_TITLE, StoreSCP


class Command(BaseCommand):
    help = (
        "Run a DICOM storage SCP: answers C-ECHO, and files each C-STORE into the project "
        "(status 0x0000 stored or duplicate, 0xC000 rejected, 0xC001 conflict, 0xA900 data "
        "set does not match its request, 0xA700 our failure). Stops on SIGTERM or Ctrl-C."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, required=True, help="TCP port to listen on")
        parser.add_argument("--project", required=True, help="project id or slug")
        parser.add_argument(
            "--ae-title", default=DEFAULT_AE_TITLE, help=f"our AE title ({DEFAULT_AE_TITLE})"
        )
        parser.add_argument(
            "--bind",
            default="127.0.0.1",
            help="address to listen on (127.0.0.1; 0.0.0.0 for every interface)",
        )

    def handle(
        self, *args: Any, port: int, project: str, ae_title: str, bind: str, **options: Any
    ) -> None:
        if not 0 < port < 65536:
            raise CommandError("--port must be between 1 and 65535")
        if not 0 < len(ae_title.strip()) <= 16:
            raise CommandError("--ae-title must be 1 to 16 characters")
        if options["verbosity"] < 2:
            # pynetdicom narrates every association at INFO; our own lines say what matters.
            logging.getLogger("pynetdicom").setLevel(logging.WARNING)
        scp = StoreSCP(project=project_by_id_or_slug(project), ae_title=ae_title.strip())
        stopping = threading.Event()

        def stop(signum: int, frame: FrameType | None) -> None:
            stopping.set()

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            scp.start(bind, port)
        except OSError as error:
            raise CommandError(f"cannot listen on {bind}:{port}: {error.strerror}") from None
        self.stdout.write(
            f"Listening on {bind}:{port} as {ae_title.strip()} for project "
            f"#{scp.project.pk}; Ctrl-C to stop."
        )
        try:
            # wait() in short slices: signal handlers run between them on the main thread.
            while not stopping.wait(0.5):
                pass
        finally:
            scp.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.stdout.write("Stopped.")
