from typing import Any

from accounts.models import User
from annotations.models import TaskState
from annotations.selectors import task_counts
from projects.models import Project
from projects.panels import ProjectPanel, register_panel
from projects.permissions import Action, can


def _tasks_context(project: Project, user: User) -> dict[str, Any]:
    counts = task_counts(project)
    return {
        "task_total": sum(counts.values()),
        "task_states": [(TaskState(state).label, n) for state, n in counts.items()],
        "is_lead": can(user, Action.VIEW_DASHBOARD, project),
    }


def register() -> None:
    register_panel(
        ProjectPanel(
            key="tasks",
            title="Tasks",
            template="annotations/panels/tasks.html",
            order=30,
            context=_tasks_context,
        )
    )
