"""Who gets the next reader slot: the project's assignment rule, one small class per rule.

Every rule skips annotators who already hold a slot of the series (independent reads) and keeps
its own running count, so a batch of tasks made in one call is spread as the rule intends.
"""

from collections import Counter
from typing import Protocol

from django.db.models import Count, Q

from accounts.models import Role, User
from annotations.models import Task
from annotations.states import OPEN
from config.errors import Conflict
from projects.models import Assignment, Project


class Rule(Protocol):
    def pick(self, *, excluded: set[int]) -> User | None: ...


class Manual:
    """Slots stay unassigned until the lead names a reader."""

    def pick(self, *, excluded: set[int]) -> User | None:
        return None


class Named:
    """The readers a lead names, in order; one who already reads the series keeps their slot."""

    def __init__(self, readers: list[User]) -> None:
        self.readers = readers

    def pick(self, *, excluded: set[int]) -> User | None:
        return next((r for r in self.readers if r.pk not in excluded), None)


class RoundRobin:
    """Annotators in turn, continuing after whoever got the project's most recent task."""

    def __init__(self, project: Project, annotators: list[User]) -> None:
        self.annotators = annotators
        last = (
            Task.objects.filter(project=project, assignee__isnull=False)
            .order_by("-created_at", "-id")
            .values_list("assignee_id", flat=True)
            .first()
        )
        ids = [a.pk for a in annotators]
        self.next = (ids.index(last) + 1) % len(ids) if last in ids else 0

    def pick(self, *, excluded: set[int]) -> User | None:
        for step in range(len(self.annotators)):
            candidate = self.annotators[(self.next + step) % len(self.annotators)]
            if candidate.pk not in excluded:
                self.next = (self.next + step + 1) % len(self.annotators)
                return candidate
        return None


class LeastLoaded:
    """The annotator with the fewest open tasks in the project (ties: the lowest id)."""

    def __init__(self, project: Project, annotators: list[User]) -> None:
        self.annotators = annotators
        open_counts = (
            User.objects.filter(pk__in=[a.pk for a in annotators])
            .annotate(n=Count("tasks", filter=Q(tasks__project=project, tasks__state__in=OPEN)))
            .values_list("pk", "n")
        )
        self.load: Counter[int] = Counter(dict(open_counts))

    def pick(self, *, excluded: set[int]) -> User | None:
        candidates = [a for a in self.annotators if a.pk not in excluded]
        if not candidates:
            return None
        chosen = min(candidates, key=lambda a: (self.load[a.pk], a.pk))
        self.load[chosen.pk] += 1
        return chosen


def annotators_of(project: Project) -> list[User]:
    return list(
        User.objects.filter(
            memberships__project=project, memberships__role=Role.ANNOTATOR, is_active=True
        ).order_by("pk")
    )


def rule_for(project: Project, mode: str, *, readers: int) -> Rule:
    """The rule for `mode`; Conflict when the project has too few annotators for `readers`."""
    if mode == Assignment.MANUAL:
        return Manual()
    annotators = annotators_of(project)
    if len(annotators) < readers:
        raise Conflict(
            f"{readers} independent reader(s) per series need {readers} annotators; "
            f"the project has {len(annotators)}"
        )
    if mode == Assignment.LEAST_LOADED:
        return LeastLoaded(project, annotators)
    return RoundRobin(project, annotators)
