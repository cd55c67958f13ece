"""Projects, their label schema and who works in them."""

from django.conf import settings
from django.db import models

from accounts.models import Role
from projects.schema import default_schema


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    label_schema = models.JSONField(default=default_schema)
    # On by default: PHI is stripped before anything reaches storage.
    deidentify = models.BooleanField(default=True)
    # New series get pre-annotations from the project's active model as soon as they are ready.
    preannotate_on_ingest = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """One role of one user in one project; a user may hold several roles in a project."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("project_id", "user_id", "role")
        constraints = [
            models.UniqueConstraint(
                fields=("project", "user", "role"), name="membership_unique_role"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=Role.values), name="membership_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} as {self.role} in {self.project}"
