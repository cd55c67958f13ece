"""Thin API views over the model registry and inference runs (/api/inference/)."""

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import Role, User
from config.errors import Forbidden, NotFound
from config.renderers import OctetStreamRenderer
from imaging.models import Series
from inference import registry, services
from inference.models import InferenceRun, ModelVersion
from inference.serializers import InferenceRunOut, ModelVersionOut
from projects.permissions import Action, require
from projects.selectors import project_for, roles_of


def _user(request: Request) -> User:
    assert isinstance(request.user, User)  # IsAuthenticated ran before any handler
    return request.user


def _series_for(user: User, series_id: int) -> Series:
    series = Series.objects.select_related("project").filter(pk=series_id).first()
    if series is None:
        raise NotFound("no such series")
    project_for(user, series.project_id)  # NotFound when the user may not see the project
    return series


class ModelList(APIView):
    @extend_schema(responses=ModelVersionOut(many=True))
    def get(self, request: Request, project_id: int) -> Response:
        project = project_for(_user(request), project_id)
        models = ModelVersion.objects.filter(project=project).order_by("-created_at", "-pk")
        return Response(ModelVersionOut(models, many=True).data)


class ModelActivate(APIView):
    @extend_schema(request=None, responses=ModelVersionOut)
    def post(self, request: Request, model_id: int) -> Response:
        model = ModelVersion.objects.filter(pk=model_id).first()
        if model is None:
            raise NotFound("no such model version")
        project = project_for(_user(request), model.project_id)
        require(_user(request), Action.CHANGE, project)
        return Response(ModelVersionOut(registry.activate(model)).data)


class ModelRollback(APIView):
    @extend_schema(request=None, responses=ModelVersionOut)
    def post(self, request: Request, project_id: int) -> Response:
        project = project_for(_user(request), project_id)
        require(_user(request), Action.CHANGE, project)
        return Response(ModelVersionOut(registry.roll_back(project)).data)


class SeriesPreannotate(APIView):
    @extend_schema(request=None, responses={202: InferenceRunOut})
    def post(self, request: Request, series_id: int) -> Response:
        user = _user(request)
        series = _series_for(user, series_id)
        if not (user.is_site_admin or roles_of(user, series.project) & {Role.LEAD}):
            raise Forbidden("only a lead or site admin may start pre-annotation")
        run = services.request_preannotation(series=series, force=True)
        return Response(InferenceRunOut(run).data, status=202)


class SeriesRuns(APIView):
    @extend_schema(responses=InferenceRunOut(many=True))
    def get(self, request: Request, series_id: int) -> Response:
        series = _series_for(_user(request), series_id)
        runs = InferenceRun.objects.filter(series=series).select_related("model_version")
        return Response(InferenceRunOut(runs.order_by("-created_at"), many=True).data)


class RevisionUncertainty(APIView):
    """The uncertainty map of the run that wrote a model revision (the viewer's heat overlay)."""

    renderer_classes = (JSONRenderer, OctetStreamRenderer)

    @extend_schema(responses={(200, "application/octet-stream"): bytes, 404: None})
    def get(self, request: Request, revision_id: int) -> HttpResponse:
        run = (
            InferenceRun.objects.select_related("series")
            .filter(revision_id=revision_id)
            .exclude(uncertainty_map="")
            .first()
        )
        if run is None:
            raise NotFound("this revision has no uncertainty map")
        project_for(_user(request), run.series.project_id)
        with run.uncertainty_map.open("rb") as stored:
            response = HttpResponse(stored.read(), content_type="application/octet-stream")
        response["Cache-Control"] = "private, max-age=31536000, immutable"
        return response
