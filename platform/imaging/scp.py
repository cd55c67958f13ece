"""A DICOM storage SCP (C-ECHO, C-STORE) that files what modalities and PACS send into a project.

Each C-STORE is written back as the Part 10 file the sender's bytes make (the encoded data set
as received, behind a file meta header) and handed to `services.ingest_batch`, so a resend of
the same instance is a duplicate by byte hash, exactly as for an upload.

Status codes we answer (PS3.4 B.2.3; the sender's logs show them, ErrorComment says why):
- 0x0000 Success: stored, or already stored with the same content (duplicate).
- 0xA900 Error, data set does not match SOP class: the data set's SOP Class or SOP Instance UID
  differs from the one in the C-STORE request; nothing is ingested.
- 0xC000 Error, cannot understand: ingest rejected the instance (not valid DICOM, over a limit,
  a missing UID...); resending the same bytes will fail the same way.
- 0xC001 Error, cannot understand (conflict): an instance with this SOP Instance UID is stored
  with different content; nothing is overwritten.
- 0xA700 Refused, out of resources: our side failed (database or storage unreachable); the
  sender may retry later, as its queue usually does for A7xx.
"""

import io
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import cast

import pydicom
from django.db import close_old_connections, connections
from pydicom.dataset import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.dimse_primitives import C_STORE
from pynetdicom.events import Event, EventHandlerType
from pynetdicom.sop_class import Verification  # type: ignore[attr-defined]
from pynetdicom.transport import ThreadedAssociationServer

from imaging.outcomes import IngestReport, Outcome
from imaging.services import ingest_batch
from projects.models import Project

logger = logging.getLogger(__name__)

SUCCESS = 0x0000
OUT_OF_RESOURCES = 0xA700
DOES_NOT_MATCH_SOP_CLASS = 0xA900
CANNOT_UNDERSTAND = 0xC000
CONFLICT = 0xC001
DEFAULT_AE_TITLE = "NODULEFLOW"
# ErrorComment is an LO element: at most 64 characters.
ERROR_COMMENT_LENGTH = 64

Ingest = Callable[[Project, str, bytes], IngestReport]


def ingest_one(project: Project, name: str, data: bytes) -> IngestReport:
    (report,) = ingest_batch(project=project, items=[(name, data)])
    return report


def status_for(report: IngestReport) -> int:
    """The C-STORE status for an ingest outcome (see the module docstring)."""
    if report.ok:
        return SUCCESS
    return CONFLICT if report.outcome == Outcome.CONFLICT else CANNOT_UNDERSTAND


@dataclass
class StoreSCP:
    """The AE, its handlers and the project it files into; `start` serves in threads."""

    project: Project
    ae_title: str = DEFAULT_AE_TITLE
    ingest: Ingest = ingest_one
    _server: ThreadedAssociationServer | None = field(default=None, init=False, repr=False)

    def application_entity(self) -> AE:
        ae = AE(ae_title=self.ae_title)
        ae.add_supported_context(Verification)
        # Every storage SOP class, in every transfer syntax pydicom knows, compressed ones
        # included: we store what is sent and decode it only when a viewer asks for frames.
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        # A large multi-frame instance can take a while to arrive over a slow link.
        ae.dimse_timeout = 120
        ae.network_timeout = 120
        ae.maximum_associations = 20
        return ae

    def start(self, host: str, port: int) -> ThreadedAssociationServer:
        """Listen on (host, port) in background threads; returns the server (see `stop`)."""
        handlers: list[EventHandlerType] = [
            (evt.EVT_C_ECHO, self.handle_echo),
            (evt.EVT_C_STORE, self.handle_store),
            (evt.EVT_RELEASED, _release_db_connection),
            (evt.EVT_ABORTED, _release_db_connection),
        ]
        server = self.application_entity().start_server(
            (host, port), block=False, evt_handlers=handlers
        )
        assert server is not None  # block=False always returns the server
        self._server = server
        logger.info("scp: listening on %s:%s as %s for project %s", host, port, self.ae_title,
                    self.project.pk)  # fmt: skip
        return server

    def stop(self) -> None:
        """Stop accepting associations and close the listening socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
            logger.info("scp: stopped (project %s)", self.project.pk)

    def handle_echo(self, event: Event) -> int:
        return SUCCESS

    def handle_store(self, event: Event) -> Dataset:
        """Ingest one received instance; never raises (pynetdicom would answer 0xC211)."""
        close_old_connections()  # as Django does per request: drop a connection gone stale
        caller = _calling_ae(event)
        try:
            data = event.encoded_dataset(include_meta=True)
            mismatch = _request_mismatch(event, data)
            if mismatch:
                logger.info("scp: C-STORE from %s refused: %s", caller, mismatch)
                return _status(DOES_NOT_MATCH_SOP_CLASS, mismatch)
            name = f"C-STORE from {caller} #{cast(C_STORE, event.request).MessageID}"
            report = self.ingest(self.project, name, data)
        except Exception:
            logger.exception("scp: C-STORE from %s failed (project %s)", caller, self.project.pk)
            return _status(OUT_OF_RESOURCES, "internal error; try again later")
        logger.info(
            "scp: C-STORE from %s: %s instance %s series %s",
            caller,
            report.outcome,
            report.instance_id,
            report.series_id,
        )
        return _status(status_for(report), _comment(report))


def _request_mismatch(event: Event, data: bytes) -> str:
    """Why the data set contradicts its C-STORE request, or "" when it agrees (or is unreadable:
    then ingest reports the real problem)."""
    try:
        dataset = pydicom.dcmread(
            io.BytesIO(data),
            stop_before_pixels=True,
            specific_tags=["SOPClassUID", "SOPInstanceUID"],
        )
    except Exception:
        return ""
    request = cast(C_STORE, event.request)
    sop_class, sop_instance = dataset.get("SOPClassUID"), dataset.get("SOPInstanceUID")
    if sop_class and sop_class != request.AffectedSOPClassUID:
        return "SOPClassUID differs from the request's"
    if sop_instance and sop_instance != request.AffectedSOPInstanceUID:
        return "SOPInstanceUID differs from the request's"
    return ""


def _comment(report: IngestReport) -> str:
    if report.ok:
        return ""
    if report.outcome == Outcome.CONFLICT:
        # Ingest's own sentence is longer than ErrorComment allows; say it in 64 characters.
        return "SOP Instance UID already stored with different content"
    return report.reason


def _status(code: int, comment: str) -> Dataset:
    status = Dataset()
    status.Status = code
    if comment:
        if len(comment) > ERROR_COMMENT_LENGTH:
            comment = comment[: ERROR_COMMENT_LENGTH - 3] + "..."
        status.ErrorComment = comment
    return status


def _calling_ae(event: Event) -> str:
    return str(event.assoc.requestor.ae_title).strip() or "unknown AE"


def _release_db_connection(event: Event) -> None:
    # Each association runs in its own thread, and Django keeps one connection per thread:
    # close it when the association ends, or every sender would leave one open behind.
    if threading.current_thread() is not threading.main_thread():
        connections.close_all()
