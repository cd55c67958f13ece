"""Writes on projects and memberships, one function per use case."""

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from accounts.models import Role, User
from config.errors import Conflict, Forbidden, NotFound
from projects import audit
from projects.models import Membership, Project
from projects.schema import default_schema, parse_schema


@transaction.atomic
def create_project(
    *,
    creator: User,
    name: str,
    description: str = "",
    label_schema: dict[str, Any] | None = None,
    deidentify: bool = True,
) -> Project:
    """A new project whose creator is its first lead. Only site admins create projects."""
    if not creator.is_site_admin:
        raise Forbidden("only a site admin may create a project")
    schema = parse_schema(label_schema if label_schema is not None else default_schema())
    project = Project.objects.create(
        name=name,
        slug=_unique_slug(name),
        description=description,
        label_schema=schema.to_json(),
        deidentify=deidentify,
        created_by=creator,
    )
    add_member(project=project, user=creator, role=Role.LEAD, by=creator)
    return project


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "project"
    slug, suffix = base, 2
    while Project.objects.filter(slug=slug).exists():
        slug, suffix = f"{base}-{suffix}", suffix + 1
    return slug


@transaction.atomic
def update_project(*, project: Project, changes: dict[str, Any]) -> Project:
    """Apply validated field changes; a new label schema is validated before anything is saved."""
    if "label_schema" in changes:
        changes["label_schema"] = parse_schema(changes["label_schema"]).to_json()
    for field, value in changes.items():
        setattr(project, field, value)
    project.save(update_fields=[*changes.keys(), "updated_at"])
    return project


def delete_project(*, project: Project) -> None:
    """Remove the project and everything that belongs to it (memberships, studies, tasks)."""
    project.delete()


def add_member(*, project: Project, user: User, role: Role, by: User | None = None) -> Membership:
    """Give `user` a role in the project; holding it already is a Conflict, not a duplicate row."""
    try:
        with transaction.atomic():
            membership = Membership.objects.create(project=project, user=user, role=role)
            audit.record(
                actor=by,
                action="membership.added",
                target=membership,
                project_id=project.pk,
                after={"user_id": user.pk, "role": role.value},
            )
            return membership
    except IntegrityError:
        raise Conflict(f"{user.username} is already {role.label.lower()} here") from None


@transaction.atomic
def remove_member(*, project: Project, user: User, role: Role, by: User | None = None) -> None:
    """Take a role away; the last lead of a project cannot be removed."""
    memberships = Membership.objects.select_for_update().filter(project=project)
    membership = memberships.filter(user=user, role=role).first()
    if membership is None:
        raise NotFound(f"{user.username} is not {role.label.lower()} here")
    if role == Role.LEAD and memberships.filter(role=Role.LEAD).count() == 1:
        raise Conflict("a project keeps at least one lead")
    audit.record(
        actor=by,
        action="membership.removed",
        target=membership,
        project_id=project.pk,
        before={"user_id": user.pk, "role": role.value},
    )
    membership.delete()
