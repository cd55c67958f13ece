"""The task state machine: which transitions exist and who may make them. One table."""

from enum import Enum

from annotations.errors import TransitionRefused
from annotations.models import TaskState
from config.errors import Forbidden


class Actor(Enum):
    ASSIGNEE = "the assigned annotator"
    REVIEWER = "a reviewer"
    LEAD = "a lead"


TRANSITIONS: dict[tuple[TaskState, TaskState], frozenset[Actor]] = {
    (TaskState.NEW, TaskState.IN_PROGRESS): frozenset({Actor.ASSIGNEE}),
    (TaskState.REWORK, TaskState.IN_PROGRESS): frozenset({Actor.ASSIGNEE}),
    (TaskState.IN_PROGRESS, TaskState.SUBMITTED): frozenset({Actor.ASSIGNEE}),
    (TaskState.SUBMITTED, TaskState.IN_REVIEW): frozenset({Actor.REVIEWER}),
    (TaskState.IN_REVIEW, TaskState.ACCEPTED): frozenset({Actor.REVIEWER}),
    (TaskState.IN_REVIEW, TaskState.REWORK): frozenset({Actor.REVIEWER}),
    # A reviewer who cannot finish hands the task back to the review queue; a lead may too.
    (TaskState.IN_REVIEW, TaskState.SUBMITTED): frozenset({Actor.REVIEWER, Actor.LEAD}),
    # A lead reopens accepted work when a problem turns up later.
    (TaskState.ACCEPTED, TaskState.REWORK): frozenset({Actor.LEAD}),
}

# States in which the assignee's saves are accepted (a save moves NEW/REWORK to IN_PROGRESS).
EDITABLE = frozenset({TaskState.NEW, TaskState.IN_PROGRESS, TaskState.REWORK})
# States that count as the assignee's open work (next task, workload-based assignment).
OPEN = (TaskState.NEW, TaskState.IN_PROGRESS, TaskState.REWORK)


def check_transition(current: str, target: TaskState, actors: set[Actor]) -> None:
    """Raise TransitionRefused (409) for a move the table lacks, Forbidden (403) for a move that
    exists but not for these actors; both name the states and who may."""
    allowed = TRANSITIONS.get((TaskState(current), target))
    if allowed is None:
        raise TransitionRefused(
            f"a task cannot go from {TaskState(current).label.lower()} to {target.label.lower()}"
        )
    if not allowed & actors:
        who = " or ".join(sorted(actor.value for actor in allowed))
        raise Forbidden(f"only {who} may move this task to {target.label.lower()}")
