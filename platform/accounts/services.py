"""Writes on users and API tokens."""

from django.contrib.auth import authenticate
from rest_framework.authtoken.models import Token

from accounts.models import User
from config.errors import PlatformError


class InvalidCredentials(PlatformError):
    status = 401
    code = "invalid_credentials"


def issue_token(*, username: str, password: str) -> Token:
    """The user's API token, created on first use; wrong credentials raise InvalidCredentials."""
    user = authenticate(username=username, password=password)
    if not isinstance(user, User) or not user.is_active:
        raise InvalidCredentials("unknown user or wrong password")
    token, _ = Token.objects.get_or_create(user=user)
    return token


def create_user(
    *, username: str, password: str, display_name: str = "", is_site_admin: bool = False
) -> User:
    """A new active user; site admins get staff and superuser rights."""
    return User.objects.create_user(
        username=username,
        password=password,
        display_name=display_name,
        is_staff=is_site_admin,
        is_superuser=is_site_admin,
    )
