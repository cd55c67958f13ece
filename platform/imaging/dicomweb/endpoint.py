"""The wrapper every DICOMweb view goes through: method check, authentication, project access,
and domain errors turned into plain HTTP statuses with a {"code", "detail"} body.

Views are plain Django views rather than DRF views: a frame request should cost one query and
a file read, not DRF's request wrapping, content negotiation and throttling machinery.
"""

from collections.abc import Callable
from functools import wraps
from typing import Concatenate, ParamSpec

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.views.decorators.csrf import csrf_exempt

from config.errors import PlatformError
from imaging.dicomweb.auth import Caller, authenticate, require_access
from imaging.dicomweb.errors import MethodNotAllowed
from imaging.dicomweb.responses import error_response

P = ParamSpec("P")
View = Callable[Concatenate[HttpRequest, Caller, int, P], HttpResponseBase]
Wrapped = Callable[Concatenate[HttpRequest, int, P], HttpResponseBase]


def dicomweb_view(*methods: str) -> Callable[[View[P]], Wrapped[P]]:
    """Wrap a view taking (request, caller, project_id, **uids) for the given methods."""
    allowed = set(methods) | ({"HEAD"} if "GET" in methods else set())

    def decorate(view: View[P]) -> Wrapped[P]:
        # CSRF is checked in authenticate(), for session callers only: token clients need none.
        @csrf_exempt
        @wraps(view)
        def wrapper(
            request: HttpRequest, project_id: int, *args: P.args, **kwargs: P.kwargs
        ) -> HttpResponseBase:
            try:
                if request.method not in allowed:
                    raise MethodNotAllowed(f"{request.method} is not allowed here")
                caller = authenticate(request)
                require_access(caller, project_id)
                return view(request, caller, project_id, *args, **kwargs)
            except PlatformError as error:
                response = error_response(error)
                if isinstance(error, MethodNotAllowed):
                    response["Allow"] = ", ".join(sorted(allowed))
                return response

        return wrapper

    return decorate
