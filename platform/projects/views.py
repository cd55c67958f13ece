"""Pages: the project list and a project's page (members, and panels from other apps)."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import Role, User
from config.errors import Conflict, NotFound
from projects import selectors, services
from projects.forms import AddMemberForm
from projects.models import Project
from projects.panels import panels
from projects.permissions import Action, can, require


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # login_required ran first
    return request.user


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    projects = selectors.projects_visible_to(user).prefetch_related("memberships")
    rows = [
        (
            project,
            sorted(m.get_role_display() for m in project.memberships.all() if m.user_id == user.pk),
        )
        for project in projects
    ]
    return render(request, "projects/project_list.html", {"rows": rows})


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    user = _user(request)
    project = selectors.project_for(user, project_id)
    sections = [{"panel": panel, "context": panel.context(project, user)} for panel in panels()]
    context = {"project": project, "sections": sections, **_members_context(project, user)}
    return render(request, "projects/project_detail.html", context)


def _members_context(
    project: Project, user: User, form: AddMemberForm | None = None
) -> dict[str, Any]:
    can_manage = can(user, Action.MANAGE_MEMBERS, project)
    return {
        "project": project,
        "members": selectors.members_of(project),
        "can_manage": can_manage,
        "member_form": (form or AddMemberForm()) if can_manage else None,
    }


@login_required
@require_POST
def member_add(request: HttpRequest, project_id: int) -> HttpResponse:
    """htmx: add a member and return the refreshed members section."""
    user = _user(request)
    project = selectors.project_for(user, project_id)
    require(user, Action.MANAGE_MEMBERS, project)
    form = AddMemberForm(request.POST)
    status = 400
    if form.is_valid():
        try:
            services.add_member(
                project=project,
                user=form.cleaned_data["username"],
                role=Role(form.cleaned_data["role"]),
                by=user,
            )
        except Conflict as conflict:
            form.add_error(None, conflict.detail)
            status = conflict.status
        else:
            form, status = AddMemberForm(), 200
    return render(
        request, "projects/_members.html", _members_context(project, user, form), status=status
    )


@login_required
@require_http_methods(["POST", "DELETE"])
def member_remove(request: HttpRequest, project_id: int, user_id: int, role: str) -> HttpResponse:
    """htmx: take a role away and return the refreshed members section."""
    user = _user(request)
    project = selectors.project_for(user, project_id)
    require(user, Action.MANAGE_MEMBERS, project)
    member = User.objects.filter(pk=user_id).first()
    if member is None or role not in Role.values:
        raise NotFound("no such member")
    services.remove_member(project=project, user=member, role=Role(role), by=user)
    return render(request, "projects/_members.html", _members_context(project, user))
