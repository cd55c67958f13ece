"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) under /dicomweb/projects/<project id>/.

A client's base URL is .../dicomweb/projects/<id>; every path below follows PS3.18.
"""

from collections.abc import Callable

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver, path, re_path
from django.views.decorators.csrf import csrf_exempt

from imaging.dicomweb import frames, pixeldata, qido, rendering, stow, wado
from imaging.dicomweb.errors import MethodNotAllowed
from imaging.dicomweb.responses import error_response


def by_method(
    get: Callable[..., HttpResponseBase], post: Callable[..., HttpResponseBase]
) -> Callable[..., HttpResponseBase]:
    """One path, two resources: a search or retrieve for GET, STOW-RS for POST."""

    @csrf_exempt  # the views it dispatches to check CSRF for session callers
    def dispatch(request: HttpRequest, project_id: int, **kwargs: str) -> HttpResponseBase:
        if request.method in ("GET", "HEAD"):
            return get(request, project_id, **kwargs)
        if request.method == "POST":
            return post(request, project_id, **kwargs)
        response = error_response(MethodNotAllowed(f"{request.method} is not allowed here"))
        response["Allow"] = "GET, HEAD, POST"
        return response

    return dispatch


def unknown_resource(request: HttpRequest, rest: str = "") -> JsonResponse:
    return JsonResponse({"code": "not_found", "detail": "no such DICOMweb resource"}, status=404)


# Flat, full paths: DICOMweb resources have no trailing slash, which nested include()s of
# slash-led routes would need (and Django's URL checks warn about).
ROOT = "projects/<int:project_id>/"
STUDY = ROOT + "studies/<str:study>"
SERIES = STUDY + "/series/<str:series>"
INSTANCE = SERIES + "/instances/<str:sop>"

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        ROOT + "studies",
        by_method(get=qido.search_studies, post=stow.store_instances),
        name="dicomweb-studies",
    ),
    path(ROOT + "series", qido.search_series),
    path(ROOT + "instances", qido.search_instances),
    path(STUDY, by_method(get=wado.retrieve_study, post=stow.store_instances)),
    path(STUDY + "/metadata", wado.study_metadata),
    path(STUDY + "/series", qido.search_series),
    path(STUDY + "/instances", qido.search_instances),
    path(SERIES, wado.retrieve_series),
    path(SERIES + "/metadata", wado.series_metadata),
    path(SERIES + "/pixeldata", pixeldata.series_pixeldata),
    path(SERIES + "/instances", qido.search_instances),
    path(INSTANCE, wado.retrieve_instance),
    path(INSTANCE + "/metadata", wado.instance_metadata),
    path(INSTANCE + "/rendered", rendering.rendered_instance),
    path(INSTANCE + "/frames/<str:frames>", frames.retrieve_frames),
    path(INSTANCE + "/frames/<str:frames>/rendered", rendering.rendered_frame),
    path(INSTANCE + "/bulkdata/<str:tag>", frames.retrieve_bulkdata),
    re_path(r"^(?P<rest>.*)$", unknown_resource),
]
