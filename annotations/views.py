"""Pages: a task in the viewer, and "next task"."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from accounts.models import User
from annotations import selectors


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required ran first
    return request.user


@login_required
def task_page(request: HttpRequest, task_id: int) -> HttpResponse:
    task = selectors.task_for(_user(request), task_id)
    context = {
        "task": task,
        "dicomweb_root": f"/dicomweb/projects/{task.project_id}",
        "history": selectors.history(task)[:50],
    }
    return render(request, "annotations/task.html", context)


@login_required
def next_task(request: HttpRequest) -> HttpResponse:
    task = selectors.next_task_for(_user(request))
    if task is None:
        return render(request, "annotations/no_tasks.html")
    return redirect("task-page", task_id=task.pk)
