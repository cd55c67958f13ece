"""Projects, their label schema and who works in them."""

from django.conf import settings
from django.db import models

from accounts.models import Role
from projects.schema import default_schema


class Assignment(models.TextChoices):
    MANUAL = "manual", "Manual"
    ROUND_ROBIN = "round_robin", "Round-robin"
    LEAST_LOADED = "least_loaded", "Lowest open workload"


class Project(models.Model):
    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.TextField(blank=True)
    label_schema = models.JSONField(default=default_schema)
    # On by default: PHI is stripped before anything reaches storage.
    deidentify = models.BooleanField(default=True)
    # New series get pre-annotations from the project's active model as soon as they are ready.
    preannotate_on_ingest = models.BooleanField(default=True)
    # Labeling workflow: how many independent readers label each series, how new tasks find
    # their annotator, and whether every series that finishes processing gets its tasks at once.
    readers_per_series = models.PositiveSmallIntegerField(default=1)
    assignment = models.CharField(
        max_length=16, choices=Assignment.choices, default=Assignment.ROUND_ROBIN
    )
    tasks_on_ingest = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(readers_per_series__gte=1, readers_per_series__lte=4),
                name="project_readers_1_to_4",
            ),
            models.CheckConstraint(
                condition=models.Q(assignment__in=Assignment.values),
                name="project_assignment_valid",
            ),
        ]

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


class AuditEvent(models.Model):
    """One recorded change: who did what to which object, with the ids before and after.

    Append-only. It lives in `projects` because every audited object (membership, task, revision,
    review, consensus) belongs to a project and every app to the right of `projects` may import it.
    """

    project = models.ForeignKey(
        Project, null=True, on_delete=models.CASCADE, related_name="audit_events"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    action = models.CharField(max_length=48)
    target_type = models.CharField(max_length=32)
    target_id = models.BigIntegerField()
    before = models.JSONField(default=dict, blank=True)
    after = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ("id",)
        indexes = [
            models.Index(fields=("target_type", "target_id", "id")),
            models.Index(fields=("project", "action", "created_at")),
        ]

    def __str__(self) -> str:
        return f"{self.action} {self.target_type} #{self.target_id}"
