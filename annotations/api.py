"""Thin API views over tasks and revisions (/api/annotations/)."""

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from annotations import selectors, services
from annotations.errors import RevisionConflict
from annotations.models import Task
from annotations.serializers import RevisionIn, RevisionOut, TaskOut
from annotations.states import EDITABLE, Actor
from config.errors import PlatformError
from config.renderers import OctetStreamRenderer


class PayloadTooLarge(PlatformError):
    status = 413
    code = "too_large"


def _user(request: Request) -> User:
    assert isinstance(request.user, User)  # IsAuthenticated ran before any handler
    return request.user


def task_out(task: Task, user: User) -> dict[str, object]:
    actors = services.actors_of(user, task)
    permissions = {
        "can_edit": Actor.ASSIGNEE in actors and task.state in EDITABLE,
        "can_submit": Actor.ASSIGNEE in actors and task.state == "in_progress",
    }
    return dict(TaskOut(task, context={"permissions": permissions}).data)


class TaskDetail(APIView):
    @extend_schema(responses=TaskOut)
    def get(self, request: Request, task_id: int) -> Response:
        task = selectors.task_for(_user(request), task_id)
        return Response(task_out(task, _user(request)))


class RevisionList(APIView):
    parser_classes = (MultiPartParser, FormParser)

    @extend_schema(responses=RevisionOut(many=True))
    def get(self, request: Request, task_id: int) -> Response:
        task = selectors.task_for(_user(request), task_id)
        return Response(RevisionOut(selectors.history(task), many=True).data)

    @extend_schema(
        request={"multipart/form-data": RevisionIn},
        responses={201: RevisionOut, 409: OpenApiResponse(description="saved since parent")},
    )
    def post(self, request: Request, task_id: int) -> Response:
        limit = settings.LABELMAP_MAX_BYTES + 1024**2  # room for the findings and form fields
        if int(request.META.get("CONTENT_LENGTH") or 0) > limit:
            raise PayloadTooLarge(f"request body is over the {limit}-byte limit")
        task = selectors.task_for(_user(request), task_id)
        data = RevisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            revision = services.save_revision(
                task=task,
                author=_user(request),
                parent_id=data.validated_data["parent_id"],
                payload=data.validated_data["labelmap"].read(),
                findings=data.validated_data.get("findings", []),
            )
        except RevisionConflict as conflict:
            body = {
                "code": conflict.code,
                "detail": conflict.detail,
                "latest_id": conflict.latest_id,
            }
            return Response(body, status=conflict.status)
        return Response(RevisionOut(revision).data, status=201)


class RevisionLabelmap(APIView):
    renderer_classes = (JSONRenderer, OctetStreamRenderer)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, revision_id: int) -> HttpResponse:
        revision = selectors.revision_for(_user(request), revision_id)
        with revision.labelmap.open("rb") as stored:
            response = HttpResponse(stored.read(), content_type="application/octet-stream")
        # Revisions never change: the browser may keep this forever.
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        response["ETag"] = f'"{revision.labelmap_sha256}"'
        return response


class TaskSubmit(APIView):
    @extend_schema(request=None, responses=TaskOut)
    def post(self, request: Request, task_id: int) -> Response:
        task = selectors.task_for(_user(request), task_id)
        task = services.submit_task(task=task, user=_user(request))
        return Response(task_out(task, _user(request)))


class NextTask(APIView):
    @extend_schema(responses={200: TaskOut, 204: None})
    def get(self, request: Request) -> Response:
        task = selectors.next_task_for(_user(request))
        if task is None:
            return Response(status=204)
        return Response(task_out(task, _user(request)))
