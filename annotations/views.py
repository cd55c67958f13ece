"""Pages: a task in the viewer (and its History section alone), "next task", and a project's task
list for leads."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from accounts.models import Role, User
from annotations import consensus, selectors, services
from annotations.assignment import annotators_of
from annotations.forms import AssignForm, CreateTasksForm, WorkflowForm
from annotations.models import Task, TaskState
from config.errors import PlatformError
from imaging.models import Series, Study
from imaging.selectors import opening_slice
from projects.models import Project
from projects.permissions import Action, can, require
from projects.selectors import project_for, roles_of


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required ran first
    return request.user


def _history_context(request: HttpRequest, task: Task) -> dict[str, Any]:
    """What the task page's History section shows (annotations/_task_history.html)."""
    return {
        "task": task,
        "history": selectors.history(task)[:200],
        "events": selectors.timeline(task)[:200],
        "reviews": selectors.reviews_of(task),
        "opened_revision": request.GET.get("revision", ""),
    }


@login_required
def task_page(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_for(_user(request), task_id)
    context = {
        **_history_context(request, task),
        "dicomweb_root": f"/dicomweb/projects/{task.project_id}",
        "opening_slice": opening_slice(task.series),
    }
    return render(request, "annotations/task.html", context)


@login_required
def task_history(request: HttpRequest, task_id: int) -> HttpResponse:
    """The task page's History section alone: the page swaps it in after a save or a review."""
    task = selectors.task_for(_user(request), task_id)  # who may see the page may see this
    return render(request, "annotations/_task_history.html", _history_context(request, task))


@login_required
def next_task(request: HttpRequest) -> HttpResponse:
    task = selectors.next_task_for(_user(request))
    if task is None:
        waiting = selectors.next_consensus_for(_user(request))
        if waiting is not None:  # a reviewer's other queue: consensus to resolve
            return redirect("consensus-page", consensus_id=waiting.pk)
        return render(request, "annotations/no_tasks.html")
    return redirect("task-page", task_id=task.pk)


def _study_choices(project: Project) -> list[tuple[int, str]]:
    studies = Study.objects.filter(project=project).select_related("patient").order_by("-id")
    return [
        (s.pk, f"{s.patient.patient_id} · {s.study_date or 'no date'} · {s.description or s.pk}")
        for s in studies[:1000]
    ]


def _tasks_context(
    request: HttpRequest,
    project: Project,
    user: User,
    *,
    create_form: CreateTasksForm | None = None,
    workflow_form: WorkflowForm | None = None,
) -> dict[str, Any]:
    """The task list page; a lead's forms are fresh unless a refused submission is passed in."""
    filters = {key: request.GET.get(key, "") for key in ("state", "assignee")}
    tasks = selectors.task_list(user, project, filters).select_related("series__study__patient")
    page = Paginator(tasks, 50).get_page(request.GET.get("page"))
    is_lead = can(user, Action.MANAGE_TASKS, project)
    annotators = annotators_of(project) if is_lead else []
    return {
        "project": project,
        "page": page,
        "filters": filters,
        "states": TaskState.choices,
        "is_lead": is_lead,
        "annotators": annotators,
        "open_states": {TaskState.NEW, TaskState.IN_PROGRESS, TaskState.REWORK},
        "create_form": (
            create_form or CreateTasksForm(project=project, studies=_study_choices(project))
        )
        if is_lead
        else None,
        "workflow_form": (workflow_form or WorkflowForm(instance=project)) if is_lead else None,
        "consensuses": selectors.consensuses_of(project)[:100]
        if can(user, Action.VIEW_DASHBOARD, project) or Role.REVIEWER in roles_of(user, project)
        else [],
    }


@login_required
def project_tasks(request: HttpRequest, project_id: int) -> HttpResponse:
    """The project's tasks, filtered and paged; leads also create, assign and configure here."""
    user = _user(request)
    project = project_for(user, project_id)
    return render(request, "annotations/project_tasks.html", _tasks_context(request, project, user))


@login_required
@require_POST
def create_tasks_page(request: HttpRequest, project_id: int) -> HttpResponse:
    user = _user(request)
    project = project_for(user, project_id)
    require(user, Action.MANAGE_TASKS, project)
    form = CreateTasksForm(request.POST, project=project, studies=_study_choices(project))
    if form.is_valid():
        values = form.cleaned_data
        series_ids = Series.objects.filter(
            project=project, study_id__in=values["studies"]
        ).values_list("pk", flat=True)
        try:
            made = services.create_tasks(
                project=project,
                series_ids=list(series_ids),
                by=user,
                readers=values["readers"],
                priority=values["priority"],
                due_date=values["due_date"],
                assignment=values["assignment"],
            )
        except PlatformError as error:
            form.add_error(None, error.detail)
        else:
            messages.success(request, f"{len(made)} task(s) created.")
            return redirect("project-tasks", project_id=project.pk)
    context = _tasks_context(request, project, user, create_form=form)
    return render(request, "annotations/project_tasks.html", context, status=400)


@login_required
@require_POST
def assign_task_page(request: HttpRequest, project_id: int, task_id: int) -> HttpResponse:
    user = _user(request)
    project = project_for(user, project_id)
    require(user, Action.MANAGE_TASKS, project)
    task = selectors.task_for(user, task_id)
    form = AssignForm(request.POST, annotators=annotators_of(project))
    if not form.is_valid() or task.project_id != project.pk:
        messages.error(request, "choose an annotator of this project")
    else:
        try:
            services.assign_task(task=task, assignee=form.cleaned_data["assignee"], by=user)
        except PlatformError as error:
            messages.error(request, f"Task {task.pk}: {error.detail}")
        else:
            messages.success(request, f"Task {task.pk} assigned.")
    return redirect("project-tasks", project_id=project.pk)


@login_required
@require_POST
def workflow_settings(request: HttpRequest, project_id: int) -> HttpResponse:
    user = _user(request)
    project = project_for(user, project_id)
    require(user, Action.CHANGE, project)
    form = WorkflowForm(request.POST, instance=project)
    if form.is_valid():
        form.save()
        messages.success(request, "Workflow settings saved.")
        return redirect("project-tasks", project_id=project.pk)
    context = _tasks_context(request, project, user, workflow_form=form)
    return render(request, "annotations/project_tasks.html", context, status=400)


KAPPA_BANDS = (
    (0.8, "almost perfect"),
    (0.6, "substantial"),
    (0.4, "moderate"),
    (0.2, "fair"),
    (0.0, "slight"),
)  # fmt: skip  (Landis and Koch)


def _kappa_rows(figures: dict[str, Any]) -> list[tuple[str, float | None, str]]:
    rows = []
    for name, value in (figures.get("fleiss_kappa") or {}).items():
        band = (
            "undefined (all readers agree or too few nodules)"
            if value is None
            else next((label for floor, label in KAPPA_BANDS if value >= floor), "poor")
        )
        rows.append((name, value, band))
    return rows


def _match_rows(found: Any) -> list[dict[str, Any]]:
    """Each matched nodule with what the screen shows: kept or not, and each reader's part."""
    revisions = {r.task_id: r.pk for r in found.reader_revisions.all()}
    readers = dict(Task.objects.filter(series=found.series).values_list("pk", "assignee__username"))
    rows = []
    for match in found.matches:
        decided = found.decisions.get(str(match["index"]))
        members = [
            m | {"revision_id": revisions.get(m["task_id"]), "reader": readers.get(m["task_id"])}
            for m in match["members"]
        ]
        keep = match["proposed"] if decided is None else decided
        rows.append(match | {"keep": keep, "members": members})
    return rows


@login_required
def consensus_page(request: HttpRequest, consensus_id: int) -> HttpResponse:
    """The consensus review screen: matched nodules, who drew them, agreement, and the
    reviewer's choice of what the series' final label keeps."""
    user = _user(request)
    found = selectors.consensus_for(user, consensus_id)
    status = 200
    if request.method == "POST":
        include = {int(v) for v in request.POST.getlist("include") if v.isdigit()}
        try:
            consensus.resolve_consensus(
                consensus=found, reviewer=user, include=include,
                comment=request.POST.get("comment", ""),
            )  # fmt: skip
        except PlatformError as error:
            messages.error(request, error.detail)
            status = error.status
        else:
            messages.success(request, "Consensus resolved; every reader's task is accepted.")
            return redirect("consensus-page", consensus_id=found.pk)
    context = {
        "consensus": found,
        "rows": _match_rows(found),
        "kappas": _kappa_rows(found.agreement),
        # consensus_for let only the project's reviewers, leads and site admins this far.
        "can_resolve": found.state == "proposed" and Role.REVIEWER in roles_of(user, found.project),
    }
    return render(request, "annotations/consensus.html", context, status=status)
