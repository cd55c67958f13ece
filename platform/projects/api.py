"""Thin DRF views over projects: selectors to read (404 when not visible), services to write."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from config.errors import NotFound
from projects import selectors, services
from projects.permissions import Action, require
from projects.serializers import (
    MemberIn,
    MemberOut,
    ProjectCreateIn,
    ProjectOut,
    ProjectUpdateIn,
)


def _user(request: Request) -> User:
    assert isinstance(request.user, User)  # IsAuthenticated ran before any handler
    return request.user


class ProjectList(APIView):
    @extend_schema(responses=ProjectOut(many=True))
    def get(self, request: Request) -> Response:
        projects = selectors.projects_visible_to(_user(request))
        return Response(ProjectOut(projects, many=True).data)

    @extend_schema(request=ProjectCreateIn, responses={201: ProjectOut})
    def post(self, request: Request) -> Response:
        data = ProjectCreateIn(data=request.data)
        data.is_valid(raise_exception=True)
        project = services.create_project(creator=_user(request), **data.validated_data)
        return Response(ProjectOut(project).data, status=201)


class ProjectDetail(APIView):
    @extend_schema(responses=ProjectOut)
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_for(_user(request), project_id)
        return Response(ProjectOut(project).data)

    @extend_schema(request=ProjectUpdateIn, responses=ProjectOut)
    def patch(self, request: Request, project_id: int) -> Response:
        project = selectors.project_for(_user(request), project_id)
        require(_user(request), Action.CHANGE, project)
        data = ProjectUpdateIn(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        project = services.update_project(project=project, changes=dict(data.validated_data))
        return Response(ProjectOut(project).data)

    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int) -> Response:
        project = selectors.project_for(_user(request), project_id)
        require(_user(request), Action.DELETE, project)
        services.delete_project(project=project)
        return Response(status=204)


class MemberList(APIView):
    @extend_schema(responses=MemberOut(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = selectors.project_for(_user(request), project_id)
        return Response(MemberOut(selectors.members_of(project), many=True).data)

    @extend_schema(request=MemberIn, responses={201: MemberOut})
    def post(self, request: Request, project_id: int) -> Response:
        project = selectors.project_for(_user(request), project_id)
        require(_user(request), Action.MANAGE_MEMBERS, project)
        data = MemberIn(data=request.data)
        data.is_valid(raise_exception=True)
        membership = services.add_member(
            project=project,
            user=data.validated_data["username"],
            role=Role(data.validated_data["role"]),
            by=_user(request),
        )
        return Response(MemberOut(membership).data, status=201)


class MemberDetail(APIView):
    @extend_schema(responses={204: None})
    def delete(self, request: Request, project_id: int, user_id: int, role: str) -> Response:
        project = selectors.project_for(_user(request), project_id)
        require(_user(request), Action.MANAGE_MEMBERS, project)
        if role not in Role.values:
            raise NotFound(f"no role {role!r}")
        member = User.objects.filter(pk=user_id).first()
        if member is None:
            raise NotFound("no such user")
        services.remove_member(project=project, user=member, role=Role(role), by=_user(request))
        return Response(status=204)
