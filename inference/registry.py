"""The model registry: register versions, one active per project, activate and roll back."""

import hashlib

from django.core.files.base import ContentFile
from django.db import transaction

from config.errors import Conflict, NotFound
from inference.models import ModelStatus, ModelVersion
from projects.models import Project

DEFAULT_ARCHITECTURE = "classical-v0"


def active_model(project: Project) -> ModelVersion | None:
    return ModelVersion.objects.filter(project=project, status=ModelStatus.ACTIVE).first()


@transaction.atomic
def ensure_default_model(project: Project) -> ModelVersion:
    """The active model, making the classical v0 detector active when there is none."""
    current = active_model(project)
    if current is not None:
        return current
    model, _ = ModelVersion.objects.get_or_create(
        project=project,
        name=DEFAULT_ARCHITECTURE,
        version="0",
        defaults={"architecture": DEFAULT_ARCHITECTURE, "config": {}},
    )
    return activate(model)


def register_model(
    *,
    project: Project,
    name: str,
    version: str,
    architecture: str,
    config: dict[str, object],
    weights: bytes | None,
    metrics: dict[str, object] | None = None,
) -> ModelVersion:
    """A new candidate version; its weights go to storage with their checksum."""
    from inference.networks import NETWORKS

    if architecture not in NETWORKS:
        raise Conflict(f"unknown architecture {architecture!r}; known: {sorted(NETWORKS)}")
    model = ModelVersion(
        project=project,
        name=name,
        version=version,
        architecture=architecture,
        config=config,
        metrics=metrics or {},
    )
    if weights is not None:
        model.weights_sha256 = hashlib.sha256(weights).hexdigest()
        model.weights.save(
            f"{project.pk}/{name}-{version}-{model.weights_sha256[:12]}.pt",
            ContentFile(weights),
            save=False,
        )
    model.save()
    return model


@transaction.atomic
def activate(model: ModelVersion) -> ModelVersion:
    """Make `model` the project's active model; the previous one is retired."""
    ModelVersion.objects.select_for_update().filter(project_id=model.project_id)
    ModelVersion.objects.filter(project_id=model.project_id, status=ModelStatus.ACTIVE).exclude(
        pk=model.pk
    ).update(status=ModelStatus.RETIRED)
    model.status = ModelStatus.ACTIVE
    model.save(update_fields=["status", "updated_at"])
    return model


@transaction.atomic
def roll_back(project: Project) -> ModelVersion:
    """Re-activate the most recently retired model (the one active before the current)."""
    previous = (
        ModelVersion.objects.filter(project=project, status=ModelStatus.RETIRED)
        .order_by("-updated_at", "-pk")
        .first()
    )
    if previous is None:
        raise NotFound("no earlier model to roll back to")
    return activate(previous)
