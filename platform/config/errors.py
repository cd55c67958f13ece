"""Domain errors, raised once in services and mapped to HTTP in one place."""

from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler


class PlatformError(Exception):
    status = 400
    code = "invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(PlatformError):
    status = 404
    code = "not_found"


class Forbidden(PlatformError):
    status = 403
    code = "forbidden"


class Conflict(PlatformError):
    status = 409
    code = "conflict"


def _first_message(detail: Any) -> str:
    """A one-line message from DRF's nested error structure, for the `detail` field."""
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    if isinstance(detail, dict) and detail:
        key, value = next(iter(detail.items()))
        message = _first_message(value)
        return message if key == "non_field_errors" else f"{key}: {message}"
    return str(detail)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Every API error body is {"code", "detail"} (plus "fields" for validation errors)."""
    if isinstance(exc, PlatformError):
        return Response({"code": exc.code, "detail": exc.detail}, status=exc.status)
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    response = exception_handler(exc, context)
    if response is None or not isinstance(exc, exceptions.APIException):
        return response
    body: dict[str, Any] = {"code": _code_of(exc), "detail": _first_message(exc.detail)}
    if isinstance(exc, exceptions.ValidationError):
        body["fields"] = exc.detail
    response.data = body
    return response


def _code_of(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "invalid"
    if exc.status_code == status.HTTP_401_UNAUTHORIZED:
        return "not_authenticated"
    codes = exc.get_codes()
    return codes if isinstance(codes, str) else str(exc.default_code)
