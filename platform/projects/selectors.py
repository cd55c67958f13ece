"""Reads on projects, always scoped to what the asking user may see."""

from django.db.models import QuerySet

from accounts.models import Role, User
from config.errors import NotFound
from projects.models import Membership, Project


def projects_visible_to(user: User) -> QuerySet[Project]:
    projects = Project.objects.all()
    if user.is_site_admin:
        return projects
    return projects.filter(memberships__user=user).distinct()


def project_for(user: User, project_id: int) -> Project:
    """The project if `user` may see it; NotFound for unknown and foreign ids alike."""
    project = projects_visible_to(user).filter(pk=project_id).first()
    if project is None:
        raise NotFound("no such project")
    return project


def roles_of(user: User, project: Project) -> set[Role]:
    return {
        Role(role)
        for role in Membership.objects.filter(project=project, user=user).values_list(
            "role", flat=True
        )
    }


def members_of(project: Project) -> QuerySet[Membership]:
    return (
        Membership.objects.filter(project=project)
        .select_related("user")
        .order_by("user__username", "role")
    )
