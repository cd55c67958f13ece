from drf_spectacular.utils import extend_schema
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts import services
from accounts.serializers import CredentialsIn, TokenOut, UserOut


class TokenCreate(APIView):
    """Exchange a username and password for the user's API token."""

    authentication_classes = ()
    permission_classes = (AllowAny,)

    @extend_schema(request=CredentialsIn, responses={200: TokenOut})
    def post(self, request: Request) -> Response:
        credentials = CredentialsIn(data=request.data)
        credentials.is_valid(raise_exception=True)
        token = services.issue_token(**credentials.validated_data)
        return Response(TokenOut({"token": token.key}).data)


class Me(APIView):
    @extend_schema(responses=UserOut)
    def get(self, request: Request) -> Response:
        return Response(UserOut(request.user).data)
