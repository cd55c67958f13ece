"""htmx partial on the study page: a series' pre-annotation runs and a button to start one."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from accounts.models import User
from config.errors import NotFound
from imaging.models import Series
from inference import services
from inference.models import InferenceRun, RunState
from inference.registry import active_model
from projects.permissions import Action, can, require
from projects.selectors import project_for


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required ran first
    return request.user


@login_required
@require_http_methods(["GET", "POST"])
def series_inference(request: HttpRequest, project_id: int, series_id: int) -> HttpResponse:
    user = _user(request)
    project = project_for(user, project_id)
    series = Series.objects.filter(project=project, pk=series_id).first()
    if series is None:
        raise NotFound("no such series")
    if request.method == "POST":
        # Starting a model run changes labels everyone sees: the lead's call.
        require(user, Action.CHANGE, project)
        services.request_preannotation(series=series, force=True)
    runs = list(
        InferenceRun.objects.filter(series=series)
        .select_related("model_version")
        .order_by("-updated_at")[:5]
    )
    busy = any(run.state in (RunState.QUEUED, RunState.RUNNING) for run in runs)
    context = {
        "project": project,
        "series": series,
        "runs": runs,
        "busy": busy,
        "active_model": active_model(project),
        "can_start": can(user, Action.CHANGE, project) and series.fit_for_3d is not False,
    }
    return render(request, "inference/series_runs.html", context)
