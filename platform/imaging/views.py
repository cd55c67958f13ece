"""Imaging pages under /projects/<id>/: study list, study page, series thumbnails, upload.

The upload endpoint answers JSON (one report per file) for the page's script; every other
view is a Django template, and domain errors become readable error pages in one place
(config.middleware.PlatformErrorPages).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import chain
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.core.paginator import Paginator
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_POST

from accounts.models import User
from config.errors import NotFound, PlatformError
from imaging import selectors
from imaging.archives import Budget, Entry, Result, Skipped, expand_upload, ingest_entries
from imaging.forms import StudySearchForm
from imaging.models import Series, SeriesState, Study
from imaging.outcomes import IngestReport
from projects.models import Project
from projects.permissions import Action, can, require
from projects.selectors import project_for

STUDIES_PER_PAGE = 25
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UploadTooLarge(PlatformError):
    status = 413
    code = "too_large"


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required ran first
    return request.user


# --- Reads (pages) -----------------------------------------------------------------------------
def study_state(series: list[Series]) -> str:
    """One word for a study's ingest state: the least advanced state of its series."""
    states = {s.state for s in series}
    for state in (SeriesState.FAILED, SeriesState.RECEIVING, SeriesState.PROCESSING):
        if state in states:
            return str(state.label)
    return str(SeriesState.READY.label) if states else "Empty"


@dataclass(frozen=True, slots=True)
class StudyRow:
    study: Study
    state: str
    thumbnail_url: str


@dataclass(frozen=True, slots=True)
class SeriesRow:
    series: Series
    geometry: list[tuple[str, str]]
    fit: str
    thumbnail_url: str


def _thumbnail_url(project: Project, series: Series | None) -> str:
    if series is None or not series.thumbnail:
        return ""
    return reverse("imaging-series-thumbnail", args=(project.pk, series.pk))


def geometry_summary(geometry: dict[str, Any] | None) -> list[tuple[str, str]]:
    """The geometry JSON of post-processing (imaging.geometry.SeriesGeometry) in words."""
    if not geometry:
        return []
    facts: list[tuple[str, str]] = []
    if geometry.get("slice_count") is not None:
        facts.append(("Slices", str(geometry["slice_count"])))
    if geometry.get("rows") and geometry.get("columns"):
        facts.append(("Matrix", f"{geometry['rows']} x {geometry['columns']}"))
    spacing = geometry.get("pixel_spacing")
    if isinstance(spacing, list) and len(spacing) == 2:
        facts.append(("Pixel spacing", f"{float(spacing[0]):.3g} x {float(spacing[1]):.3g} mm"))
    if geometry.get("slice_spacing") is not None:
        facts.append(("Slice spacing", f"{float(geometry['slice_spacing']):.3g} mm"))
    if geometry.get("orientation"):
        facts.append(("Orientation", str(geometry["orientation"])))
    if geometry.get("missing_slices"):
        facts.append(("Gaps", f"{geometry['missing_slices']} missing slice(s)"))
    elif "missing_slices" in geometry:
        facts.append(("Gaps", "none"))
    return facts


def _fit_for_3d(series: Series) -> str:
    if series.fit_for_3d is None:
        return "not checked yet"
    if series.fit_for_3d:
        return "yes"
    return f"no: {series.unfit_reason}" if series.unfit_reason else "no"


# --- Pages -------------------------------------------------------------------------------------
@login_required
@require_GET
def study_list(request: HttpRequest, project_id: int) -> HttpResponse:
    user = _user(request)
    project = project_for(user, project_id)
    form = StudySearchForm(request.GET)
    studies = selectors.studies_page_of(project, form.query(), form.ordering())
    page = Paginator(studies, STUDIES_PER_PAGE).get_page(request.GET.get("page"))
    rows = [
        StudyRow(
            study=study,
            state=study_state(study.series_list),  # type: ignore[attr-defined]
            thumbnail_url=_thumbnail_url(
                project,
                next((s for s in study.series_list if s.thumbnail), None),  # type: ignore[attr-defined]
            ),
        )
        for study in page.object_list
    ]
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "project": project,
        "form": form,
        "page": page,
        "rows": rows,
        "query_string": query.urlencode(),
        "can_upload": can(user, Action.UPLOAD, project),
    }
    # htmx asks for the table only when the search box or the sort changes.
    template = "imaging/_study_table.html" if request.headers.get("HX-Request") else None
    return render(request, template or "imaging/study_list.html", context)


@login_required
@require_GET
def study_detail(request: HttpRequest, project_id: int, study_pk: int) -> HttpResponse:
    user = _user(request)
    project = project_for(user, project_id)
    study = Study.objects.filter(project=project, pk=study_pk).select_related("patient").first()
    if study is None:
        raise NotFound("no such study in this project")
    rows = [
        SeriesRow(
            series=series,
            geometry=geometry_summary(series.geometry),
            fit=_fit_for_3d(series),
            thumbnail_url=_thumbnail_url(project, series),
        )
        for series in study.series.order_by("series_number", "pk").defer("metadata_gz")
    ]
    context = {"project": project, "study": study, "rows": rows}
    return render(request, "imaging/study_detail.html", context)


@login_required
@require_GET
def series_thumbnail(request: HttpRequest, project_id: int, series_pk: int) -> FileResponse:
    """The series' PNG thumbnail, to members only: it is a picture of a patient."""
    project = project_for(_user(request), project_id)
    series = Series.objects.filter(project=project, pk=series_pk).only("thumbnail").first()
    if series is None or not series.thumbnail:
        raise NotFound("no thumbnail for this series")
    response = FileResponse(
        default_storage.open(str(series.thumbnail.name)), content_type="image/png"
    )
    response["Cache-Control"] = "private, max-age=300"
    return response


@login_required
@require_GET
def upload_page(request: HttpRequest, project_id: int) -> HttpResponse:
    user = _user(request)
    project = project_for(user, project_id)
    require(user, Action.UPLOAD, project)
    context = {
        "project": project,
        "max_upload_bytes": settings.DICOM_MAX_UPLOAD_BYTES,
        "max_instance_bytes": settings.DICOM_MAX_INSTANCE_BYTES,
    }
    return render(request, "imaging/upload.html", context)


# --- The upload endpoint -----------------------------------------------------------------------
def _json_errors(
    view: Callable[[HttpRequest, int], HttpResponse],
) -> Callable[[HttpRequest, int], HttpResponse]:
    """The page's script reads {"code", "detail"}: give it that instead of an HTML error page."""

    def wrapped(request: HttpRequest, project_id: int) -> HttpResponse:
        try:
            return view(request, project_id)
        except PlatformError as error:
            return JsonResponse({"code": error.code, "detail": error.detail}, status=error.status)

    return wrapped


# csrf_exempt outside, csrf_protect inside: the CSRF check reads the body, and we refuse an
# unauthorised or oversized upload before a byte of it is read (and spooled to disk).
@csrf_exempt
@require_POST
@_json_errors
def upload_files(request: HttpRequest, project_id: int) -> HttpResponse:
    if not request.user.is_authenticated:
        return JsonResponse(
            {"code": "not_authenticated", "detail": "your session ended: sign in again"},
            status=401,
        )
    user = _user(request)
    project = project_for(user, project_id)
    require(user, Action.UPLOAD, project)
    length = int(request.headers.get("Content-Length") or 0)
    if length > settings.DICOM_MAX_UPLOAD_BYTES:
        raise UploadTooLarge(
            f"one upload may be at most {settings.DICOM_MAX_UPLOAD_BYTES} bytes; "
            "send fewer files per request"
        )
    return _ingest_upload(request, project)


@csrf_protect
def _ingest_upload(request: HttpRequest, project: Project) -> HttpResponse:
    uploads = request.FILES.getlist("files")
    if not uploads:
        raise PlatformError("no files in the upload (form field 'files')")
    # Browsers drop folders from file names; the page sends each file's relative path beside it.
    paths = request.POST.getlist("paths")
    names = paths if len(paths) == len(uploads) else [upload.name or "" for upload in uploads]
    budget = Budget()
    entries = chain.from_iterable(
        _entries(display_name(name), upload, budget)
        for name, upload in zip(names, uploads, strict=True)
    )
    results = list(ingest_entries(project=project, entries=entries))
    studies = dict(
        Series.objects.filter(
            project=project,
            pk__in={r.series_id for r in results if isinstance(r, IngestReport) and r.series_id},
        ).values_list("pk", "study_id")
    )
    return JsonResponse({"reports": [_report_json(project, r, studies) for r in results]})


def _entries(name: str, upload: UploadedFile, budget: Budget) -> Iterator[Entry]:
    try:
        yield from expand_upload(name, upload, upload.size or 0, budget)
    finally:
        upload.close()


def display_name(name: str) -> str:
    """A client-supplied file name, fit to show (only ever shown, never used as a path)."""
    cleaned = _CONTROL.sub("", name).strip() or "unnamed file"
    return cleaned if len(cleaned) <= 255 else "…" + cleaned[-254:]


def _report_json(project: Project, result: Result, studies: dict[int, int]) -> dict[str, Any]:
    if isinstance(result, Skipped):
        return {"name": result.name, "outcome": result.outcome, "reason": result.reason}
    study_id = studies.get(result.series_id or 0)
    return {
        "name": result.name,
        "outcome": str(result.outcome),
        "reason": result.reason,
        "series_id": result.series_id,
        "instance_id": result.instance_id,
        "study_url": reverse("imaging-study-detail", args=(project.pk, study_id))
        if study_id
        else None,
    }
