"""Who is calling and whether they may read the project, without DRF on the hot path.

A viewer fetches hundreds of frames per series, each one a request: looking the token and the
membership up every time would double the work of a frame. Both answers are kept in process
for a short time instead. The price is that a revoked token or membership keeps working for up
to ACCESS_TTL_SECONDS on a replica that has just seen it; only positive answers are kept, so
granting access takes effect at once.
"""

from dataclasses import dataclass, field

from django.http import HttpRequest
from django.http.response import HttpResponseBase
from rest_framework.authentication import CSRFCheck
from rest_framework.authtoken.models import Token

from accounts.models import User
from config.errors import Forbidden
from imaging.dicomweb import lookups
from imaging.dicomweb.errors import NotAuthenticated
from imaging.dicomweb.memo import TtlCache
from projects.models import Project
from projects.selectors import project_for

ACCESS_TTL_SECONDS = 30.0
MAX_CACHED = 10_000

_user_by_token: TtlCache[str, int] = TtlCache(ACCESS_TTL_SECONDS, MAX_CACHED)
_allowed: TtlCache[tuple[int, int], bool] = TtlCache(ACCESS_TTL_SECONDS, MAX_CACHED)


def clear_caches() -> None:
    """Forget every cached token, membership and instance lookup (tests, or after revoking
    access in a shell)."""
    _user_by_token.clear()
    _allowed.clear()
    lookups.clear_cache()


@dataclass
class Caller:
    """The authenticated user of one request; the User row is loaded only when needed."""

    user_id: int
    _user: User | None = field(default=None, repr=False)

    @property
    def user(self) -> User:
        if self._user is None:
            self._user = User.objects.get(pk=self.user_id)
        return self._user


def authenticate(request: HttpRequest) -> Caller:
    """The caller by `Authorization: Token <key>`, else by session (CSRF-checked when unsafe).

    Other Authorization schemes are left to whoever sent them (a proxy's Basic auth, say), as
    DRF's TokenAuthentication does: the session still counts.
    """
    scheme, _, key = request.META.get("HTTP_AUTHORIZATION", "").strip().partition(" ")
    if scheme.lower() == "token":
        return Caller(_user_id_for_token(key.strip()))
    user = getattr(request, "user", None)
    if isinstance(user, User) and user.is_active:
        if request.method not in ("GET", "HEAD", "OPTIONS", "TRACE"):
            _enforce_csrf(request)
        return Caller(user.pk, user)
    raise NotAuthenticated("authentication credentials were not provided")


def _user_id_for_token(key: str) -> int:
    if not key or " " in key:
        raise NotAuthenticated("invalid token header; send 'Authorization: Token <key>'")
    cached = _user_by_token.get(key)
    if cached is not None:
        return cached
    row = Token.objects.filter(key=key).values_list("user_id", "user__is_active").first()
    if row is None or not row[1]:
        raise NotAuthenticated("invalid token")
    _user_by_token.put(key, row[0])
    return row[0]


def _never_called(request: HttpRequest) -> HttpResponseBase:
    # CsrfViewMiddleware wants a view and a get_response; the check uses neither.
    raise AssertionError("not a view")


def _enforce_csrf(request: HttpRequest) -> None:
    # The same check DRF's SessionAuthentication makes: a page's script must send the CSRF
    # token, while token clients (which a browser never sends on its own) need none.
    check = CSRFCheck(_never_called)
    check.process_request(request)
    reason = check.process_view(request, _never_called, (), {})
    if reason:
        raise Forbidden(f"CSRF failed: {reason}")


def require_access(caller: Caller, project_id: int) -> None:
    """NotFound unless the caller is a member of the project (any role) or a site admin."""
    if _allowed.get((caller.user_id, project_id)):
        return
    project_for(caller.user, project_id)
    _allowed.put((caller.user_id, project_id), True)


def project_of(caller: Caller, project_id: int) -> Project:
    """The project row itself, for the few views that write (STOW)."""
    return project_for(caller.user, project_id)
