"""The audit trail: every service that changes a task, revision, review, consensus or membership
calls `record` inside its own transaction, so an event exists exactly when the change does."""

from typing import Any

from django.db import models

from accounts.models import User
from projects.models import AuditEvent


def record(
    *,
    actor: User | None,
    action: str,
    target: models.Model,
    project_id: int | None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event; `actor` is None for the platform itself (a model, a scheduled job)."""
    return AuditEvent.objects.create(
        project_id=project_id,
        actor=actor,
        action=action,
        target_type=target._meta.model_name or type(target).__name__.lower(),
        target_id=target.pk,
        before=before or {},
        after=after or {},
    )


def events_of(target: models.Model) -> models.QuerySet[AuditEvent]:
    """The history of one object, oldest first, with the actors loaded."""
    return AuditEvent.objects.filter(
        target_type=target._meta.model_name, target_id=target.pk
    ).select_related("actor")
