"""Users and the roles they can hold in a project."""

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who signs in. Site admins (`is_staff`) create projects and see every one."""

    display_name = models.CharField(max_length=150, blank=True)

    @property
    def is_site_admin(self) -> bool:
        return self.is_active and (self.is_staff or self.is_superuser)

    def __str__(self) -> str:
        return self.display_name or self.username


class Role(models.TextChoices):
    """A member's role in one project. The order is not a hierarchy: a lead does not label."""

    LEAD = "lead", "Lead"
    ANNOTATOR = "annotator", "Annotator"
    REVIEWER = "reviewer", "Reviewer"
