"""Thin API views over tasks and revisions (/api/annotations/)."""

from typing import Any

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.pagination import PageNumberPagination
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from annotations import consensus, selectors, services
from annotations.errors import RevisionConflict
from annotations.models import Consensus, Task, TaskState
from annotations.serializers import (
    ConsensusOut,
    DecisionIn,
    ResolveIn,
    ReviewOut,
    RevisionIn,
    RevisionOut,
    TaskChangeIn,
    TaskOut,
    TaskRow,
    TasksIn,
)
from annotations.states import EDITABLE, Actor
from config.errors import NotFound, PlatformError
from config.renderers import OctetStreamRenderer
from imaging.models import Series
from projects.permissions import Action, require
from projects.selectors import project_for


class PayloadTooLarge(PlatformError):
    status = 413
    code = "too_large"


def _user(request: Request) -> User:
    assert isinstance(request.user, User)  # IsAuthenticated ran before any handler
    return request.user


def task_out(task: Task, user: User) -> dict[str, object]:
    actors = services.actors_of(user, task)
    holds_review = task.state == TaskState.IN_REVIEW and task.reviewer_id == user.pk
    annotating = Actor.ASSIGNEE in actors and task.state in EDITABLE
    permissions = {
        "can_edit": annotating or (holds_review and Actor.REVIEWER in actors),
        "can_submit": Actor.ASSIGNEE in actors and task.state == TaskState.IN_PROGRESS,
        "can_start_review": Actor.REVIEWER in actors and task.state == TaskState.SUBMITTED,
        "can_decide": holds_review and Actor.REVIEWER in actors,
        "can_release": task.state == TaskState.IN_REVIEW and (holds_review or Actor.LEAD in actors),
        "can_reopen": Actor.LEAD in actors and task.state == TaskState.ACCEPTED,
        "can_assign": Actor.LEAD in actors and task.state in EDITABLE,
    }
    mode = "annotate" if annotating else "review" if holds_review else "read"
    context = {
        "permissions": permissions,
        "mode": mode,
        "reviews": ReviewOut(selectors.reviews_of(task), many=True).data,
    }
    return dict(TaskOut(task, context=context).data)


class ProjectTasks(APIView):
    """A project's tasks (paged), and a lead making tasks from a selection of series or studies."""

    @extend_schema(responses=TaskRow(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for(_user(request), project_id)
        tasks = selectors.task_list(_user(request), project, request.query_params.dict())
        paginator = TaskPages()
        page = paginator.paginate_queryset(tasks, request, view=self)
        return paginator.get_paginated_response(TaskRow(page, many=True).data)

    @extend_schema(request=TasksIn, responses={201: TaskRow(many=True)})
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(_user(request), project_id)
        require(_user(request), Action.MANAGE_TASKS, project)
        data = TasksIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        series_ids = list(values["series_ids"]) + list(
            Series.objects.filter(project=project, study_id__in=values["study_ids"])
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if values["study_ids"] and len(series_ids) == len(values["series_ids"]):
            raise NotFound("the chosen studies have no series in this project")
        tasks = services.create_tasks(
            project=project,
            series_ids=series_ids,
            by=_user(request),
            readers=values.get("readers"),
            priority=values["priority"],
            due_date=values["due_date"],
            assignment=values.get("assignment"),
            assignees=values["assignees"],
        )
        return Response(TaskRow(tasks, many=True).data, status=201)


class TaskPages(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class TaskDetail(APIView):
    @extend_schema(responses=TaskOut)
    def get(self, request: Request, task_id: int) -> Response:
        task = selectors.task_for(_user(request), task_id)
        return Response(task_out(task, _user(request)))

    @extend_schema(request=TaskChangeIn, responses=TaskOut)
    def patch(self, request: Request, task_id: int) -> Response:
        """A lead assigns the task, or changes its priority or due date."""
        user = _user(request)
        task = selectors.task_for(user, task_id)
        data = TaskChangeIn(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        with transaction.atomic():
            if "assignee" in values:
                task = services.assign_task(task=task, assignee=values["assignee"], by=user)
            if "priority" in values or "due_date" in values:
                task = services.change_task(
                    task=task,
                    by=user,
                    priority=values.get("priority"),
                    due_date=values.get("due_date", "unchanged"),
                )
        return Response(task_out(selectors.task_for(user, task_id), user))


class TaskHistory(APIView):
    """The task's audit trail (newest first) and its revisions."""

    @extend_schema(responses=None)
    def get(self, request: Request, task_id: int) -> Response:
        task = selectors.task_for(_user(request), task_id)
        events = [
            {
                "id": event.id,
                "action": event.action,
                "actor": event.actor.username if event.actor else "platform",
                "target": f"{event.target_type} #{event.target_id}",
                "before": event.before,
                "after": event.after,
                "at": event.created_at,
            }
            for event in selectors.timeline(task)[:500]
        ]
        revisions = RevisionOut(selectors.history(task), many=True).data
        return Response({"events": events, "revisions": revisions})


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


class TaskAction(APIView):
    """One reviewer or lead move on a task; subclasses name the service."""

    def act(self, task: Task, user: User, data: dict[str, Any]) -> object:
        raise NotImplementedError

    @extend_schema(request=DecisionIn, responses=TaskOut)
    def post(self, request: Request, task_id: int) -> Response:
        user = _user(request)
        task = selectors.task_for(user, task_id)
        data = DecisionIn(data=request.data)
        data.is_valid(raise_exception=True)
        self.act(task, user, dict(data.validated_data))
        return Response(task_out(selectors.task_for(user, task_id), user))


class StartReview(TaskAction):
    def act(self, task: Task, user: User, data: dict[str, Any]) -> object:
        return services.start_review(task=task, reviewer=user)


class ReleaseReview(TaskAction):
    def act(self, task: Task, user: User, data: dict[str, Any]) -> object:
        return services.release_review(task=task, by=user)


class Accept(TaskAction):
    def act(self, task: Task, user: User, data: dict[str, Any]) -> object:
        return services.accept_task(task=task, reviewer=user, **data)


class Rework(TaskAction):
    def act(self, task: Task, user: User, data: dict[str, Any]) -> object:
        return services.send_to_rework(task=task, reviewer=user, **data)


class Reopen(TaskAction):
    def act(self, task: Task, user: User, data: dict[str, Any]) -> object:
        return services.reopen_task(task=task, lead=user, comment=data["comment"])


class NextTask(APIView):
    @extend_schema(responses={200: TaskOut, 204: None})
    def get(self, request: Request) -> Response:
        task = selectors.next_task_for(_user(request))
        if task is None:
            return Response(status=204)
        return Response(task_out(task, _user(request)))


class ConsensusDetail(APIView):
    @extend_schema(responses=ConsensusOut)
    def get(self, request: Request, consensus_id: int) -> Response:
        found = selectors.consensus_for(_user(request), consensus_id)
        return Response(ConsensusOut(found).data)


class SeriesConsensus(APIView):
    @extend_schema(responses=ConsensusOut)
    def get(self, request: Request, series_id: int) -> Response:
        found = Consensus.objects.filter(series_id=series_id).values_list("pk", flat=True).first()
        if found is None:
            raise NotFound("no consensus for this series (yet)")
        return Response(ConsensusOut(selectors.consensus_for(_user(request), found)).data)


class ConsensusResolve(APIView):
    @extend_schema(request=ResolveIn, responses=ConsensusOut)
    def post(self, request: Request, consensus_id: int) -> Response:
        found = selectors.consensus_for(_user(request), consensus_id)
        data = ResolveIn(data=request.data)
        data.is_valid(raise_exception=True)
        resolved = consensus.resolve_consensus(
            consensus=found,
            reviewer=_user(request),
            include=set(data.validated_data["include"]),
            comment=data.validated_data["comment"],
        )
        return Response(ConsensusOut(resolved).data)


class ConsensusLabelmap(APIView):
    renderer_classes = (JSONRenderer, OctetStreamRenderer)

    @extend_schema(responses={(200, "application/octet-stream"): bytes})
    def get(self, request: Request, consensus_id: int) -> HttpResponse:
        found = selectors.consensus_for(_user(request), consensus_id)
        which = request.query_params.get("which", "proposed")
        stored_file = found.labelmap if which == "final" else found.proposed_labelmap
        if which not in ("proposed", "final") or not stored_file:
            raise NotFound(f"no {which} labelmap for this consensus")
        with stored_file.open("rb") as stored:
            return HttpResponse(stored.read(), content_type="application/octet-stream")
