from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from config.errors import PlatformError


class PlatformErrorPages:
    """Pages raise the same domain errors as the API; show them as a readable error page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, PlatformError):
            return None
        return render(
            request,
            "error.html",
            {"code": exception.code, "detail": exception.detail, "status": exception.status},
            status=exception.status,
        )
