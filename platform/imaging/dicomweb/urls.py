"""DICOMweb (QIDO-RS, WADO-RS, STOW-RS) under /dicomweb/projects/<project id>/.

A client's base URL is .../dicomweb/projects/<id>; every path below follows PS3.18.
"""

from collections.abc import Callable

from django.http import HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import URLPattern, URLResolver, include, path, re_path
from django.views.decorators.csrf import csrf_exempt

from imaging.dicomweb import frames, qido, rendering, stow, wado
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


instance: list[URLPattern | URLResolver] = [
    path("", wado.retrieve_instance),
    path("/metadata", wado.instance_metadata),
    path("/rendered", rendering.rendered_instance),
    path("/frames/<str:frames>", frames.retrieve_frames),
    path("/frames/<str:frames>/rendered", rendering.rendered_frame),
    path("/bulkdata/<str:tag>", frames.retrieve_bulkdata),
]
series: list[URLPattern | URLResolver] = [
    path("", wado.retrieve_series),
    path("/metadata", wado.series_metadata),
    path("/instances", qido.search_instances),
    path("/instances/<str:sop>", include(instance)),
]
study_paths: list[URLPattern | URLResolver] = [
    path("", by_method(get=wado.retrieve_study, post=stow.store_instances)),
    path("/metadata", wado.study_metadata),
    path("/series", qido.search_series),
    path("/instances", qido.search_instances),
    path("/series/<str:series>", include(series)),
]
urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "projects/<int:project_id>/studies",
        by_method(get=qido.search_studies, post=stow.store_instances),
        name="dicomweb-studies",
    ),
    path("projects/<int:project_id>/studies/<str:study>", include(study_paths)),
    path("projects/<int:project_id>/series", qido.search_series),
    path("projects/<int:project_id>/instances", qido.search_instances),
    re_path(r"^(?P<rest>.*)$", unknown_resource),
]
